"""Call the service with KServe's own REST client and check its answers with KServe's V2 data models.

Run with the Python of the kserve environment (requirements-kserve.txt; kserve cannot share
.venv with the pipeline): `python kserve_client_check.py URL MODEL REQUEST.json`, where
REQUEST.json holds {"records": [{column: value}], "datatypes": {column: V2 datatype}}.
Prints one JSON object with what the client got; any disagreement raises (exit status 1).
"""

import asyncio
import json
import sys

import httpx
from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig
from kserve.protocol.rest.v2_datamodels import (
    InferenceResponse,
    ModelMetadataResponse,
    ModelReadyResponse,
    ServerMetadataResponse,
)


async def main(url: str, model: str, records: list[dict], datatypes: dict[str, str]) -> dict:
    out = {}
    async with InferenceRESTClient(RESTConfig(protocol="v1", retries=0)) as v1:
        out["v1_live"] = await v1.is_server_live(url)
        out["v1_ready"] = await v1.is_model_ready(url, model)
        out["v1_predictions"] = (await v1.infer(url, {"instances": records}, model_name=model))["predictions"]
        try:
            await v1.infer(url, {"instances": [{"no such column": 1}]}, model_name=model)
        except httpx.HTTPStatusError as exc:
            out["v1_error"] = [exc.response.status_code, exc.response.json()["error"]]
    async with InferenceRESTClient(RESTConfig(protocol="v2", retries=0)) as v2:
        out["v2_live"] = await v2.is_server_live(url)
        out["v2_ready"] = await v2.is_server_ready(url)
        out["v2_model_ready"] = await v2.is_model_ready(url, model)
        inputs = []
        for name, datatype in datatypes.items():
            data = [record[name] for record in records]
            inputs.append(InferInput(name=name, shape=[len(records)], datatype=datatype, data=data))
        response = await v2.infer(
            url, InferRequest(model_name=model, infer_inputs=inputs, request_id="kserve-1"), model
        )
        out["v2_id"] = response.id
        out["v2_outputs"] = {output.name: output.data for output in response.outputs}
        out["v2_shapes"] = {output.name: output.shape for output in response.outputs}
    async with httpx.AsyncClient(base_url=url) as http:
        ServerMetadataResponse.model_validate((await http.get("/v2")).json())
        metadata = ModelMetadataResponse.model_validate((await http.get(f"/v2/models/{model}")).json())
        out["v2_inputs"] = [tensor.name for tensor in metadata.inputs]
        ModelReadyResponse.model_validate((await http.get(f"/v2/models/{model}/ready")).json())
        body = {"inputs": [{"name": n, "shape": [len(records)], "datatype": d,
                            "data": [r[n] for r in records]} for n, d in datatypes.items()]}  # fmt: skip
        raw = (await http.post(f"/v2/models/{model}/infer", json=body)).json()
        InferenceResponse.model_validate(raw)
    return out


if __name__ == "__main__":
    url, model, request_path = sys.argv[1:]
    with open(request_path) as file:
        request = json.load(file)
    print(json.dumps(asyncio.run(main(url, model, request["records"], request["datatypes"]))))
