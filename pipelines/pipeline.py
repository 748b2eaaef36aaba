"""The DVC pipeline's stages as a Kubeflow Pipelines (KFP v2) pipeline, built from dvc.yaml.

dvc.yaml is the one list of stages: the pipeline has a task for each, in its order, and each
task takes the artifacts of the stages that write its deps. A stage's component, below, has the
stage's name (compiling stops if a stage has none, or a component no stage) and runs the same
code as `dvc repro` (mlops.pipeline.<stage>) through mlops.pipeline.workspace. Its inputs are
named after the outputs of the stages it reads from (compiling stops when they disagree with
dvc.yaml's deps); its output is one artifact holding every file the stage wrote.

The parameters are params.yaml's: the one in `project_dir` (the image's), or the `params`
pipeline parameter, params.yaml's content as JSON text (JSON, not a KFP dict parameter, which
would turn every integer into a float).

    python pipelines/pipeline.py            # writes pipelines/pipeline.yaml, the file to upload
    PIPELINE_IMAGE=ghcr.io/OWNER/REPO-pipeline@sha256:... python pipelines/pipeline.py

docs/deploy.md: the image, running it locally (kfp.local) and submitting it to a cluster.
"""

import os
import re
from pathlib import Path

import yaml
from kfp import compiler, dsl
from kfp.dsl import Artifact, Dataset, Input, Metrics, Model, Output

from mlops import paths

ROOT = Path(__file__).resolve().parents[1]
COMPILED = Path(__file__).with_name("pipeline.yaml")
# The image every step runs in: the project's requirements.txt, kfp, the mlops package, gx/ and
# data/source/ at PROJECT_DIR. kfp is in the image, so no step installs anything at run time.
IMAGE = os.environ.get("PIPELINE_IMAGE", "ghcr.io/OWNER/REPO-pipeline:latest")
PROJECT_DIR = "/app"


COMPONENTS = {}  # stage name -> its component, each registered by @component below
SETTINGS = ("params", "project_dir")  # every component's parameters; its other inputs are artifacts


def component(function):
    COMPONENTS[function.__name__] = dsl.component(base_image=IMAGE, install_kfp_package=False)(function)
    return COMPONENTS[function.__name__]


def dvc_stages(dvc_yaml: Path = ROOT / "dvc.yaml") -> dict[str, dict[str, list[str]]]:
    """dvc.yaml's stages in order: each one's deps and outs (metrics and plots too), paths resolved."""

    def resolved(entries) -> list[str]:
        names = [next(iter(entry)) if isinstance(entry, dict) else entry for entry in entries or []]
        return [re.sub(r"\$\{paths\.(\w+)\}", lambda name: paths.DECLARED[name[1]], text) for text in names]

    stages = yaml.safe_load(dvc_yaml.read_text(encoding="utf-8"))["stages"]
    return {
        name: {
            "deps": resolved(spec.get("deps")),
            "outs": [path for key in ("outs", "metrics", "plots") for path in resolved(spec.get(key))],
        }
        for name, spec in stages.items()
    }


def upstream(stages: dict[str, dict[str, list[str]]]) -> dict[str, list[str]]:
    """Stage -> the stages before it that write one of its deps (a file, or one under a folder)."""

    def within(path: str, folder: str) -> bool:
        return path == folder or path.startswith(folder.rstrip("/") + "/")

    names = list(stages)
    return {
        name: [
            before
            for before in names[: names.index(name)]
            if any(within(dep, out) for dep in stages[name]["deps"] for out in stages[before]["outs"])
        ]
        for name in names
    }


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
def crossval(params: str, project_dir: str, prepared: Input[Dataset], cv: Output[Artifact]):
    from mlops.pipeline.workspace import run_stage

    run_stage("crossval", params, project_dir, [prepared.path], cv.path)


@component
def checks(
    params: str,
    project_dir: str,
    prepared: Input[Dataset],
    model: Input[Model],
    reports: Input[Artifact],
    cv: Input[Artifact],
    checked: Output[Artifact],
):
    from mlops.pipeline.workspace import run_stage

    run_stage("checks", params, project_dir, [prepared.path, model.path, reports.path, cv.path], checked.path)


@component
def export(
    params: str,
    project_dir: str,
    prepared: Input[Dataset],
    model: Input[Model],
    reports: Input[Artifact],
    checked: Input[Artifact],
    serving_model: Output[Model],
):
    from mlops.pipeline.workspace import run_stage

    inputs = [prepared.path, model.path, reports.path, checked.path]
    run_stage("export", params, project_dir, inputs, serving_model.path)


STAGES = dvc_stages()
UPSTREAM = upstream(STAGES)


def check_components(stages) -> None:
    """One component for each stage, none more."""
    if set(COMPONENTS) != set(stages):
        raise SystemExit(
            f"pipelines/pipeline.py: a component for each of dvc.yaml's stages {list(stages)}, not {list(COMPONENTS)}"
        )


check_components(STAGES)


def artifacts_for(stage: str, offered: dict[str, dict]) -> dict:
    """The artifacts `stage`'s component takes, by name, from the outputs of the stages dvc.yaml
    says it reads from (offered: stage -> its outputs); each of those stages must give one."""
    wanted = [name for name in COMPONENTS[stage].component_spec.inputs if name not in SETTINGS]
    given = {name: output for outputs in offered.values() for name, output in outputs.items() if name in wanted}
    unused = [before for before, outputs in offered.items() if not set(outputs) & set(wanted)]
    if set(given) != set(wanted) or unused:
        raise SystemExit(
            f"pipelines/pipeline.py: {stage} takes {wanted}; dvc.yaml's deps give it {sorted(given)}"
            + (f" and outputs of {unused} it does not take" if unused else "")
        )
    return given


@dsl.pipeline(name="mlops-template", description=", ".join(STAGES))
def training_pipeline(params: str = "", project_dir: str = PROJECT_DIR):
    tasks = {}
    for stage, before in UPSTREAM.items():
        inputs = artifacts_for(stage, {name: tasks[name].outputs for name in before})
        tasks[stage] = COMPONENTS[stage](params=params, project_dir=project_dir, **inputs)


def compile_pipeline(path: Path = COMPILED) -> Path:
    compiler.Compiler().compile(training_pipeline, package_path=str(path))
    return path


if __name__ == "__main__":
    print(f"wrote {compile_pipeline()}")
