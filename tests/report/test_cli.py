"""`mlops report` as a command: files written, exit status, baselines (artifact, git, shallow clone), HTML."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
import yaml

from mlops.cli import main
from mlops.report import runs
from tests.report.synthetic import Model, dataset, params, write_run

MAIN = Model(accuracy=0.85, seed=1)


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """Synthetic runs: main's, a pull request that is worse, and one that is better."""
    root = tmp_path_factory.mktemp("runs")
    data = dataset()
    return {
        "main": write_run(root / "main", data, MAIN, params(), "a" * 40),
        "worse": write_run(root / "worse", data, Model(accuracy=0.6, seed=2), params(max_depth=1), "b" * 40),
        "better": write_run(root / "better", data, Model(accuracy=0.95, seed=3), params(), "c" * 40),
    }


def work_copy(made, tmp_path: Path, side: str) -> Path:
    work = tmp_path / "work"
    shutil.copytree(made[side], work)
    return work


def run_cli(work: Path, *args: str) -> int:
    cwd = os.getcwd()
    os.chdir(work)
    try:
        return main(["report", *args])
    finally:
        os.chdir(cwd)


def test_an_artifact_baseline_gives_markdown_html_figures_and_the_verdict(made, tmp_path, capsys):
    work = work_copy(made, tmp_path, "worse")
    assert run_cli(work, "--baseline-dir", str(tmp_path / "missing"), "--baseline-dir", str(made["main"])) == 0
    markdown = (work / "reports/pr/report.md").read_text()
    assert markdown.startswith("## ❌ Model report: worse in f1 against main@aaaaaaa")
    assert "Baseline: main@aaaaaaa (the last successful training run on main)." in markdown
    verdict = json.loads((work / "reports/pr/verdict.json").read_text())
    assert verdict["status"] == "worse" and verdict["high"] < -0.01 and verdict["rows"] == 600
    for figure in ("roc", "precision_recall", "reliability"):
        assert (work / f"reports/pr/{figure}.png").read_bytes().startswith(b"\x89PNG")
    page = (work / "reports/pr/report.html").read_text()
    assert "<table>" in page and "```mermaid" not in page and "reliability" in page
    assert "worse" in capsys.readouterr().out


def test_fail_on_regression_fails_only_when_the_verdict_is_worse(made, tmp_path, capsys):
    for side, status in (("worse", 1), ("better", 0)):
        work = work_copy(made, tmp_path / side, side)
        settings = yaml.safe_load((work / "params.yaml").read_text())
        settings["report"]["fail_on_regression"] = True
        (work / "params.yaml").write_text(yaml.safe_dump(settings))
        assert run_cli(work, "--baseline-dir", str(made["main"])) == status, side
        assert (work / "reports/pr/report.md").is_file()  # written either way, for the comment
    assert "mlops report: error: f1 −0." in capsys.readouterr().err


def test_without_any_baseline_it_says_so(made, tmp_path):
    work = work_copy(made, tmp_path, "better")
    assert run_cli(work) == 0
    assert "no baseline yet" in (work / "reports/pr/report.md").read_text()
    assert json.loads((work / "reports/pr/verdict.json").read_text())["status"] == "none"


def test_without_metrics_it_is_a_one_line_error(made, tmp_path, capsys):
    work = work_copy(made, tmp_path, "better")
    (work / "reports/metrics.json").unlink()
    assert run_cli(work) == 1
    assert "reports/metrics.json not found: run the pipeline first" in capsys.readouterr().err


def git(*args, cwd):
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e", "GIT_COMMITTER_NAME": "t"}
    env["GIT_COMMITTER_EMAIL"] = "t@e"
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True, env=env).stdout.strip()


COMMITTED = ["params.yaml", "dvc.lock", "reports/metrics.json", "reports/per_class.json", "reports/plots",
             "reports/cv/scores.json", "reports/cv/plan.json"]  # fmt: skip


def test_a_git_baseline_is_fetched_in_a_shallow_clone_and_its_cv_scores_give_the_verdict(made, tmp_path):
    upstream = tmp_path / "upstream"
    for name in COMMITTED:  # what a user commits: no predictions, no prepared data
        source = made["main"] / name
        target = upstream / name
        target.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if source.is_dir() else shutil.copy)(source, target)
    git("init", "--quiet", "-b", "main", cwd=upstream)
    git("add", ".", cwd=upstream)
    git("commit", "--quiet", "-m", "main", cwd=upstream)
    main_commit = git("rev-parse", "HEAD", cwd=upstream)
    git("checkout", "--quiet", "-b", "feature", cwd=upstream)
    (upstream / "feature.txt").write_text("x")
    git("add", ".", cwd=upstream)
    git("commit", "--quiet", "-m", "feature", cwd=upstream)
    clone = tmp_path / "clone"
    subprocess.run(
        ["git", "clone", "--quiet", "--depth=1", "--branch", "feature", f"file://{upstream}", str(clone)], check=True
    )
    assert git("rev-parse", "--is-shallow-repository", cwd=clone) == "true"
    shutil.copytree(made["better"], clone, dirs_exist_ok=True)
    cwd = os.getcwd()
    os.chdir(clone)
    try:
        assert runs.resolve_commit("main") == main_commit  # not in the clone: fetched
        base, source = runs.load_baseline([], "origin/main")
        assert main(["report", "--baseline", "origin/main"]) == 0
    finally:
        os.chdir(cwd)
    assert base.label == f"main@{main_commit[:7]}" and source == "metrics committed on main"
    markdown = (clone / "reports/pr/report.md").read_text()
    assert "over 5×2 paired folds of 600 rows: better" in markdown
    assert f"Baseline: main@{main_commit[:7]} (metrics committed on main)." in markdown
    # Only a run carries per-row predictions: the sections that need them say how to get one.
    assert "per-row test predictions are not at hand: git holds its metrics, not them" in markdown
    assert "has no out-of-fold predictions (reports/cv/predictions.parquet): git holds" in markdown
    assert f"`git worktree add ../baseline {main_commit[:12]} && cd ../baseline && dvc repro`" in markdown


def test_report_html_renders_in_headless_chromium(made, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("SKIPPED LOUDLY: chromium is not installed (apt-get install chromium); CI must have it")
    from PIL import Image

    work = work_copy(made, tmp_path, "better")
    assert run_cli(work, "--baseline-dir", str(made["main"])) == 0
    shot = tmp_path / "shot.png"
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", "--hide-scrollbars",
             "--window-size=1000,1400", f"--screenshot={shot}", (work / "reports/pr/report.html").as_uri()],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
    image = Image.open(shot).convert("L")
    dark = sum(image.histogram()[:128])
    assert dark > 0.005 * image.width * image.height, "the screenshot is blank"
    assert len(image.getcolors(maxcolors=1 << 16) or range(1 << 16)) > 20, "the screenshot has almost no detail"


def test_onnx_single_row_latency_is_measured_through_the_service_runtime(tmp_path):
    from tests.serving.conftest import build_project

    build_project(tmp_path, data=dataset(rows=200).rename(columns={"x1": "x 1"}))  # a column name with a space
    prepared = tmp_path / "data/prepared"
    facts = runs.onnx_latency(tmp_path / "models/model.onnx", prepared / "test.parquet", prepared / "schema.json", 50)
    assert 0 < facts["onnx_latency_ms_p50"] <= facts["onnx_latency_ms_p95"] < 1000, facts


# ---------------------------------------------------------------- the baseline's name and source, in every mode


def baseline_dir(made, tmp_path: Path, *, facts: dict | None, checkout: bool, predictions: bool) -> Path:
    """main's run copied to a directory: its report's facts.json replaced (or removed), made a git checkout
    of only its committed files or not, with or without its per-row predictions. Its models/training.json
    names another commit (the one that trained a model restored from DVC's cache)."""
    directory = tmp_path / "baseline"
    shutil.copytree(made["main"], directory)
    (directory / "models").mkdir(exist_ok=True)
    (directory / "models/training.json").write_text(json.dumps({"git_commit": "f" * 40}))
    facts_file = directory / runs.FACTS
    if facts is None:
        facts_file.unlink()
    else:
        facts_file.write_text(json.dumps(facts))
    if not predictions:
        (directory / "data/predictions/test.csv").unlink()
    if checkout:
        git("init", "--quiet", "-b", "release", cwd=directory)
        git("add", ".", cwd=directory)
        git("commit", "--quiet", "-m", "base", cwd=directory)
    return directory


def test_a_git_checkout_of_committed_files_is_named_by_its_own_commit_and_branch(made, tmp_path):
    directory = baseline_dir(made, tmp_path, facts=None, checkout=True, predictions=False)
    base, source = runs.load_baseline([directory], None)
    head = git("rev-parse", "HEAD", cwd=directory)
    assert base.label == f"release@{head[:7]}" and base.commit == head
    assert source == "metrics committed on release"


def test_the_ci_artifact_is_named_by_the_commit_and_branch_its_report_recorded(made, tmp_path):
    facts = {"commit": "d" * 40, "branch": "main", "run_url": "https://github.com/o/r/actions/runs/9"}
    directory = baseline_dir(made, tmp_path, facts=facts, checkout=False, predictions=True)
    base, source = runs.load_baseline([directory], None)
    assert base.label == "main@ddddddd" and source == "the last successful training run on main"


def test_a_local_run_directory_is_named_as_such_never_by_the_model_metadata_commit(made, tmp_path):
    recorded = baseline_dir(made, tmp_path / "a", facts={"commit": "e" * 40}, checkout=False, predictions=True)
    base, source = runs.load_baseline([recorded], None)
    assert base.label == "baseline@eeeeeee" and source == f"the pipeline run in {recorded}, at eeeeeee"
    unknown = baseline_dir(made, tmp_path / "b", facts=None, checkout=False, predictions=True)
    base, source = runs.load_baseline([unknown], None)
    assert base.label == "baseline" and base.commit is None  # not training.json's ffffff...
    assert source == f"the pipeline run in {unknown}; its commit is unknown (no .git, no reports/pr/facts.json there)"


def test_the_report_names_a_local_directory_baseline_in_its_header_and_baseline_line(made, tmp_path):
    work = work_copy(made, tmp_path, "worse")
    directory = baseline_dir(made, tmp_path, facts={"commit": "e" * 40}, checkout=False, predictions=True)
    assert run_cli(work, "--baseline-dir", str(directory)) == 0
    markdown = (work / "reports/pr/report.md").read_text()
    assert markdown.startswith("## ❌ Model report: worse in f1 against baseline@eeeeeee")
    assert f"Baseline: baseline@eeeeeee (the pipeline run in {directory}, at eeeeeee)." in markdown
    assert "committed on main" not in markdown and "main@" not in markdown


def test_help_lists_what_a_baseline_directory_holds(capsys):
    with pytest.raises(SystemExit):
        main(["report", "--help"])
    shown = capsys.readouterr().out
    assert "A baseline directory (--baseline-dir)" in shown
    for path, _ in runs.BASELINE_FILES:
        assert f"  {path}" in shown
