"""The platform definitions in deploy/ (Azure ML, SageMaker, Vertex AI) point at routes and a port the service has.

The SageMaker request files are checked against SageMaker's own API model (botocore's,
offline), the way `aws sagemaker create-model --cli-input-json` would check them.
"""

import json

import botocore.session
import pytest
import yaml
from botocore.validate import validate_parameters

from mlops.serving.ports import DEFAULT_PORT
from tests.conftest import REPO_ROOT

DEPLOY = REPO_ROOT / "deploy"


def test_azure_ml_routes_are_the_services_liveness_readiness_and_scoring(client, records, expected):
    environment = yaml.safe_load((DEPLOY / "azureml/environment.yml").read_text())
    routes = environment["inference_config"]
    assert {route["port"] for route in routes.values()} == {DEFAULT_PORT}
    assert client.get(routes["liveness_route"]["path"]).status_code == 200
    assert client.get(routes["readiness_route"]["path"]).get_json()["status"] == "ready"
    scored = client.post(routes["scoring_route"]["path"], json={"instances": records})
    assert scored.get_json()["predictions"] == expected[0]
    deployment = yaml.safe_load((DEPLOY / "azureml/deployment.yml").read_text())
    endpoint = yaml.safe_load((DEPLOY / "azureml/endpoint.yml").read_text())
    assert deployment["endpoint_name"] == endpoint["name"]
    assert deployment["environment"] == "file:environment.yml"


@pytest.mark.parametrize(
    ("operation", "name"),
    [("CreateModel", "model.json"), ("CreateEndpointConfig", "endpoint-config.json"),
     ("CreateTransformJob", "transform-job.json")],
)  # fmt: skip
def test_sagemaker_definitions_are_valid_api_requests(operation, name):
    model = botocore.session.get_session().get_service_model("sagemaker")
    validate_parameters(
        json.loads((DEPLOY / "sagemaker" / name).read_text()), model.operation_model(operation).input_shape
    )


def test_sagemaker_batch_transform_sends_what_invocations_takes(make_app, records, expected):
    job = json.loads((DEPLOY / "sagemaker/transform-job.json").read_text())
    model = json.loads((DEPLOY / "sagemaker/model.json").read_text())
    assert job["ModelName"] == model["ModelName"]
    assert not {"PORT", "SAGEMAKER_BIND_TO_PORT"} & set(model["PrimaryContainer"].get("Environment", {}))
    app = make_app()
    assert job["MaxPayloadInMB"] * 1024 * 1024 <= app.config["MAX_CONTENT_LENGTH"]
    assert job["TransformInput"]["ContentType"] == "text/csv" and job["TransformInput"]["SplitType"] == "Line"
    lines = "".join(",".join("" if v is None else str(v) for v in r.values()) + "\n" for r in records)
    answer = app.test_client().post(
        "/invocations", data=lines, content_type="text/csv", headers={"Accept": job["TransformOutput"]["Accept"]}
    )
    assert answer.get_data(as_text=True).splitlines() == expected[0]


def test_vertex_model_leaves_the_routes_to_vertex_and_uses_the_default_port():
    spec = json.loads((DEPLOY / "vertex/model.json").read_text())["model"]["containerSpec"]
    assert spec["ports"] == [{"containerPort": DEFAULT_PORT}]
    assert "healthRoute" not in spec and "predictRoute" not in spec  # Vertex sets AIP_*_ROUTE; the service follows
