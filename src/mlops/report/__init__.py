"""`mlops report`: how this run's model compares with a baseline, as the pull-request comment.

Writes reports/pr/report.md (the comment: renders on GitHub, charts as Mermaid, at most
GitHub's size), report.html (the whole report, self-contained, figures inlined), PNGs,
verdict.json and facts.json (model size, ONNX latency, rows; a later run reads it back
when this run becomes its baseline).

The baseline is, in order: `--baseline-dir DIR` (a pipeline run laid out like the repository: the
artifact of main's last training run, or a worktree where main's pipeline ran; `--help` lists the
files), else `--baseline REV` (what is committed at REV: metrics, cross-validation scores, plots,
params, dvc.lock; the sections that need per-row predictions say how to get them), else none
("no baseline yet"). The report names the baseline's commit and where it came from.

The package: `runs` reads runs, `statistics` measures, `comparisons` compares (into the data of
`results`), `judge` gives the verdict, `retrained` scores rows neither model trained on, `markdown`
writes the comment (with `tables` and the Mermaid `charts`), `html` the page and its figures.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from mlops import paths
from mlops.errors import MlopsError

# The title of CML's watermark on the pull-request comment: the comment a new report replaces. The comment
# jobs (.github/workflows/pr-report.yml, .gitlab-ci.yml) run none of this code, so they write it out;
# tests/workflow/test_workflows.py checks they write this one.
WATERMARK = "mlops-model-report"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from mlops.report import runs

    parser.add_argument("--baseline", metavar="REV", help="compare with what is committed at REV (e.g. origin/main)")
    parser.add_argument(
        "--baseline-dir",
        metavar="DIR",
        type=Path,
        action="append",
        default=[],
        help="compare with a run's files laid out like the repository (repeatable: the first that has metrics wins)",
    )
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = runs.baseline_files_help()
    parser.add_argument("--out", type=Path, default=paths.PR_REPORT_DIR, help="output folder (default: %(default)s)")
    parser.add_argument("--params", default=str(paths.PARAMS), help="parameters file (default: %(default)s)")


def run(args: argparse.Namespace) -> int:
    from mlops.config import load_params
    from mlops.io import write_json, write_text
    from mlops.report import html, judge, markdown, retrained, runs

    settings = load_params(args.params).report
    write_json(args.out / "facts.json", runs.measure_facts())
    pr = runs.load_run(runs.dir_reader("."), "this PR", root=Path("."))
    if pr is None:
        raise MlopsError(f"{paths.METRICS} not found: run the pipeline first (make run)")
    pr.facts = json.loads((args.out / "facts.json").read_text())
    base, source = runs.load_baseline(args.baseline_dir, args.baseline)
    comparison = judge.compare(pr, base, settings)
    if base is not None:
        comparison.retrained = retrained.compare_retrained(pr, base, settings)
    context = {"baseline_source": source}
    if pr.facts.get("run_url"):
        context["run_url"] = pr.facts["run_url"]
    pictures = html.draw(comparison, args.out)
    pipeline_figures = () if comparison.regression else ("confusion_matrix",)  # html.draw drew regression's
    pictures += [paths.FIGURES_DIR / f"{name}.png" for name in (*pipeline_figures, "feature_importance")]
    write_text(args.out / "report.md", markdown.render(comparison, context))
    write_text(args.out / "report.html", html.render(markdown.render(comparison, context, limit=None), pictures))
    verdict = comparison.verdict
    write_json(args.out / "verdict.json", {**judge.summary(verdict), "baseline": source})
    print(f"report: {verdict.icon} {verdict.sentence} -> {args.out / 'report.md'}")
    if verdict.status == "worse" and settings.fail_on_regression:
        raise MlopsError(f"{verdict.sentence} (report.fail_on_regression is true in {args.params})")
    return 0
