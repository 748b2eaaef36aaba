"""The DVC pipeline's six stages as a Kubeflow Pipelines (KFP v2) pipeline.

Each component runs the same stage code as `dvc repro` (mlops.pipeline.<stage>), through
mlops.pipeline.workspace: its inputs are the artifacts of the stages before it, its output
one artifact holding every file the stage wrote. The parameters are params.yaml's: the one in
`project_dir` (the image's), or the `params` pipeline parameter, params.yaml's content as JSON
text (JSON, not a KFP dict parameter, which would turn every integer into a float).

    python pipelines/pipeline.py            # writes pipelines/pipeline.yaml, the file to upload
    PIPELINE_IMAGE=ghcr.io/OWNER/REPO-pipeline@sha256:... python pipelines/pipeline.py

docs/deploy.md: the image, running it locally (kfp.local) and submitting it to a cluster.
"""

import os
from pathlib import Path

from kfp import compiler, dsl
from kfp.dsl import Artifact, Dataset, Input, Metrics, Model, Output

ROOT = Path(__file__).resolve().parents[1]
COMPILED = Path(__file__).with_name("pipeline.yaml")
# The image every step runs in: the project's requirements.txt, kfp, the mlops package, gx/ and
# data/source/ at PROJECT_DIR. kfp is in the image, so no step installs anything at run time.
IMAGE = os.environ.get("PIPELINE_IMAGE", "ghcr.io/OWNER/REPO-pipeline:latest")
PROJECT_DIR = "/app"


def component(function):
    return dsl.component(base_image=IMAGE, install_kfp_package=False)(function)


@component
def ingest(params: str, project_dir: str, raw: Output[Dataset]):
    from mlops.pipeline.workspace import run_stage

    run_stage("ingest", params, project_dir, [], raw.path)


@component
def validate(params: str, project_dir: str, raw: Input[Dataset], validation: Output[Artifact]):
    from mlops.pipeline.workspace import run_stage

    run_stage("validate", params, project_dir, [raw.path], validation.path)


@component
def prepare(params: str, project_dir: str, raw: Input[Dataset], validation: Input[Artifact], prepared: Output[Dataset]):
    from mlops.pipeline.workspace import run_stage

    run_stage("prepare", params, project_dir, [raw.path, validation.path], prepared.path)


@component
def train(params: str, project_dir: str, raw: Input[Dataset], prepared: Input[Dataset], model: Output[Model]):
    from mlops.pipeline.workspace import run_stage

    run_stage("train", params, project_dir, [raw.path, prepared.path], model.path)


@component
def evaluate(
    params: str,
    project_dir: str,
    prepared: Input[Dataset],
    model: Input[Model],
    reports: Output[Artifact],
    metrics: Output[Metrics],
):
    import json
    from pathlib import Path

    from mlops import paths
    from mlops.pipeline.workspace import run_stage

    run_stage("evaluate", params, project_dir, [prepared.path, model.path], reports.path)
    for name, value in json.loads((Path(reports.path) / paths.METRICS).read_text()).items():
        if isinstance(value, (int, float)):
            metrics.log_metric(name, value)


@component
def export(
    params: str,
    project_dir: str,
    prepared: Input[Dataset],
    model: Input[Model],
    reports: Input[Artifact],
    serving_model: Output[Model],
):
    from mlops.pipeline.workspace import run_stage

    run_stage("export", params, project_dir, [prepared.path, model.path, reports.path], serving_model.path)


@dsl.pipeline(name="mlops-template", description="ingest, validate, prepare, train, evaluate, export")
def training_pipeline(params: str = "", project_dir: str = PROJECT_DIR):
    raw = ingest(params=params, project_dir=project_dir)
    checked = validate(params=params, project_dir=project_dir, raw=raw.outputs["raw"])
    prepared = prepare(
        params=params, project_dir=project_dir, raw=raw.outputs["raw"], validation=checked.outputs["validation"]
    )
    trained = train(
        params=params, project_dir=project_dir, raw=raw.outputs["raw"], prepared=prepared.outputs["prepared"]
    )
    evaluated = evaluate(
        params=params, project_dir=project_dir, prepared=prepared.outputs["prepared"], model=trained.outputs["model"]
    )
    export(
        params=params,
        project_dir=project_dir,
        prepared=prepared.outputs["prepared"],
        model=trained.outputs["model"],
        reports=evaluated.outputs["reports"],
    )


def compile_pipeline(path: Path = COMPILED) -> Path:
    compiler.Compiler().compile(training_pipeline, package_path=str(path))
    return path


if __name__ == "__main__":
    print(f"wrote {compile_pipeline()}")
