"""The pipeline's paths are declared once, in src/mlops/paths.yaml: dvc.yaml and the code both read it."""

from __future__ import annotations

from pathlib import Path

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
