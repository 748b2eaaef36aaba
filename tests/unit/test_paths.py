"""The pipeline's paths are declared once, in src/mlops/paths.yaml: dvc.yaml and the code both read it."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mlops import paths
from tests.conftest import REPO_ROOT


def strings(node):
    if isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from strings(item)
    elif isinstance(node, str):
        yield node


def test_the_code_reads_every_declared_path():
    for name, value in paths.DECLARED.items():
        assert getattr(paths, name.upper()) == Path(value), name
    assert paths.SUITE.parent == paths.GX_DIR / "expectations"  # where Great Expectations keeps a suite


def test_dvc_yaml_names_no_data_path_of_its_own():
    """Every path in dvc.yaml is either a source file or a ${paths.<name>} reference."""
    dvc_yaml = yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text())
    assert dvc_yaml["vars"] == [str(Path(paths.__file__).with_suffix(".yaml").relative_to(REPO_ROOT))]
    pathlike = {text for text in strings(dvc_yaml["stages"] | {"plots": dvc_yaml["plots"]}) if "/" in text}
    literal = {text for text in pathlike if "${paths." not in text and not text.startswith("src/")}
    assert not literal


def test_dvc_resolves_the_declared_paths():
    from dvc.repo import Repo
    from dvc.stage import PipelineStage

    with Repo(str(REPO_ROOT)) as repo:  # dvc.yaml's stages, not the .dvc files of data added with `dvc add`
        stages = {stage.name: stage for stage in repo.index.stages if isinstance(stage, PipelineStage)}
        used = {Path(item.def_path) for stage in stages.values() for item in [*stage.deps, *stage.outs]}
    assert stages["ingest"].outs[0].def_path == str(paths.RAW)
    declared = {Path(value) for name, value in paths.DECLARED.items() if name not in ("params", "gx_dir")}
    assert declared <= used


def test_the_drift_gauge_reads_where_mlops_drift_writes():
    """The service's gauge cannot import mlops.paths (no PyYAML in the serving image): its default agrees."""
    from mlops.monitoring import drift_gauge

    assert drift_gauge.DEFAULT_REPORT == paths.DRIFT_REPORT


def test_the_service_reads_the_files_the_export_stage_writes():
    """The service cannot import mlops.paths either: mlops.exported names the same files."""
    from mlops import exported

    directory = Path(exported.DEFAULT_MODEL_DIR)
    assert directory / exported.METADATA_FILE == paths.MODEL_METADATA
    assert directory / exported.ONNX_FILE == paths.ONNX_MODEL
    assert directory / exported.SKOPS_FILE == paths.MODEL  # serve.runtime sklearn serves the trained model


def string_constants(tree: ast.AST):
    """The string literals of a module, without its docstrings (those describe, they do not choose)."""
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and ast.get_docstring(node, clean=False) is not None
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            yield node


def test_no_command_writes_a_path_of_its_own():
    """paths.yaml's promise: change a path there and the `mlops` commands follow. The service is
    the exception it names (no PyYAML in its image), and the drift gauge it loads (tested above)."""
    tool_paths = {str(value) for value in vars(paths).values() if isinstance(value, Path)} - {"params.yaml", "dvc.lock"}
    tops = {value.split("/")[0] for value in paths.DECLARED.values() if "/" in value}
    pattern = re.compile(rf"(^|[\s(`'\"])({'|'.join(map(re.escape, sorted(tops)))})/")
    package = Path(paths.__file__).parent
    exempt = {package / "paths.py", package / "monitoring/drift_gauge.py"}
    found = [
        f"{module.relative_to(package)}:{node.lineno}: {node.value!r}"
        for module in sorted(package.rglob("*.py"))
        if "serving" not in module.relative_to(package).parts and module not in exempt
        for node in string_constants(ast.parse(module.read_text(encoding="utf-8")))
        if pattern.search(node.value) or any(value in node.value for value in tool_paths)
    ]
    assert found == []


@pytest.mark.parametrize("workflow", ["monitor.yml", "train.yml"])
def test_the_workflows_take_their_paths_from_mlops_paths(workflow):
    """A workflow names no file of its own: each job that needs one runs `python -m mlops.paths` for it."""
    text = (REPO_ROOT / ".github/workflows" / workflow).read_text()
    for path in paths.WORKFLOW.values():
        assert path.as_posix() not in text, f"{workflow} spells {path} out: use the paths step's output"
    used = set(re.findall(r"steps\.paths\.outputs\.(\w+)", text))
    assert used and used <= set(paths.WORKFLOW), used - set(paths.WORKFLOW)
    jobs = yaml.safe_load(text)["jobs"]
    for name, job in jobs.items():
        if "steps.paths.outputs" in str(job):
            ids = [step.get("id") for step in job["steps"]]
            assert "paths" in ids, f"job {name} reads the paths step's outputs but has no such step"
    printed = subprocess.run([sys.executable, "-m", "mlops.paths"], capture_output=True, text=True, check=True)
    assert printed.stdout.splitlines() == [f"{key}={value.as_posix()}" for key, value in paths.WORKFLOW.items()]
