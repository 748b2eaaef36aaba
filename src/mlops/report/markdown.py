"""The pull-request comment in Markdown: renders on GitHub, charts as Mermaid blocks.

A comment holds at most 65,536 characters. A report over `LIMIT` drops whole sections,
least needed first, and says which (they stay in report.html); long tables keep their
first rows and say how many more there are. Nothing is cut inside a table.
"""

from __future__ import annotations

from mlops import paths
from mlops.metrics import direction
from mlops.report.charts import charts, mermaid_reliability
from mlops.report.judge import signed
from mlops.report.results import Comparison, TestComparison
from mlops.report.runs import Run
from mlops.report.statistics import Interval
from mlops.report.tables import (
    MAX_TABLE_ROWS,
    all_params,
    changed_params,
    confusion_details,
    context_line,
    data_table,
    facts_table,
    fmt,
    table,
    validation_details,
    validation_status,
)

LIMIT = 60_000  # GitHub refuses comments over 65,536 characters; room for CML's watermark
# Where pr-report.yml writes the feedback time (from the start of the pull request's train run to the
# comment), known only as the comment is posted; hidden wherever the report is read before that.
FEEDBACK_MARKER = "<!-- mlops:feedback-time -->"


def interval_cell(interval: Interval) -> str:
    return f"{signed(interval.low)} to {signed(interval.high)}"


def significance(metric: str, interval: Interval) -> str:
    """🟢/🔴 when the interval excludes zero in the better/worse direction, ⚪ when it straddles it."""
    if interval.low > 0 or interval.high < 0:
        return "🟢" if interval.estimate * direction(metric) > 0 else "🔴"
    return "⚪"


# ---------------------------------------------------------------- the sections


def headline(comparison: Comparison) -> str:
    verdict, metric = comparison.verdict, comparison.settings.metric
    against = f" against {comparison.base.label}" if comparison.base else ""
    failed = failed_checks(comparison.pr)
    if failed:
        total = len(comparison.pr.checks["checks"])
        icon, start = "❌", f"failed {len(failed)} of {total} checks, not shipped; "
    else:
        icon, start = verdict.icon, ""
    if verdict.status == "invalid":
        return f"## {icon} Model report: {start}{verdict.words}"
    if verdict.status in ("none", "unknown"):
        return f"## {icon} Model report: {start}{metric} {comparison.pr.metrics[metric]:.4f}, {verdict.words}{against}"
    worse = len(comparison.slices.worse) if comparison.slices else 0
    joint = "and" if verdict.status == "worse" else "but"  # worse on average and in slices too; or despite it
    caveat = f", {joint} {worse} slice{'s' if worse > 1 else ''} got worse" if worse else ""
    return f"## {icon} Model report: {start}{verdict.words} in {metric}{against}{caveat}"


def failed_checks(run: Run) -> list[dict]:
    return [check for check in (run.checks or {}).get("checks", []) if not check["passed"]]


def checks_section(run: Run) -> str:
    """The checks stage's result (reports/checks.json): the primary metric against the trivial baseline,
    each check with what to change when it failed, and the decision threshold; empty without the file."""
    result = run.checks
    if not result:
        return ""
    metric = result["metric"]
    failed = failed_checks(run)
    if failed:
        intro = (
            f"❌ **The model failed {len(failed)} of {len(result['checks'])} checks**: the pipeline stopped before "
            "export, so this model is not exported, and on the default branch not shipped."
        )
    else:
        intro = f"✅ All {len(result['checks'])} checks passed."
    rows = [
        ["✅" if check["passed"] else "❌", check["name"], check["detail"], "" if check["passed"] else check["fix"]]
        for check in result["checks"]
    ]
    header = ["", "check (`checks:` in params.yaml)", "measured on the cross-validation folds", "what to change"]
    lines = [
        intro,
        table(header, rows),
        f"Primary metric **{metric}**: {fmt(result['model'][metric])} cross-validated against "
        f"{fmt(result['baseline'][metric])} for the trivial baseline ({result['baseline_model']}).",
    ]
    if result.get("decision"):
        lines.append(f"Decision: {result['decision']['rule']}.")
    return "\n\n".join(lines)


def verdict_section(comparison: Comparison, context: dict[str, str]) -> str:
    verdict, settings, base = comparison.verdict, comparison.settings, comparison.base
    lines = [f"**Verdict:** {verdict.icon} {verdict.sentence}."]
    evidence = verdict.evidence
    if evidence:
        lines.append(
            f"{evidence.method.capitalize()}, p = {evidence.interval.p_value:.3g}. Rule (`report` in params.yaml): "
            f"better when the interval lies above {signed(settings.min_effect)}, worse when below "
            f"{signed(-settings.max_drop)}, else no detectable change."
        )
        if evidence.note:
            lines.append(f"⚠️ {evidence.note}.")
    if base:
        lines.append(f"Baseline: {base.label} ({context.get('baseline_source', 'main')}).")
    else:
        lines.append("Baseline: no baseline yet (no successful training run or committed metrics on main).")
    lines.append(cost_line(comparison.pr, comparison.regression) + FEEDBACK_MARKER)
    return "  \n".join(lines)


def cost_line(pr: Run, regression: bool = False) -> str:
    cv = pr.cv
    if not cv:
        return ""
    sample = ""
    if cv["rows"] < cv["rows_available"]:
        kind = "random" if regression else "stratified"
        sample = f" on a {kind} subsample of {cv['rows']:,} of {cv['rows_available']:,} rows (`report.cv_max_rows`)"
    took = f" in {cv['seconds']:.1f} s" if "seconds" in cv else ""
    return (
        f"Cost: this run cross-validated its model{took}, {cv['fits']} fits of "
        f"{cv['train_rows']:,} rows each{sample}; main's per-fold scores come from main's own run."
    )


def cv_section(comparison: Comparison) -> str:
    pr, base = comparison.pr, comparison.base
    if not pr.cv:
        return f"No cross-validation scores in this run ({paths.CV_SCORES}): run the `crossval` stage."
    if base is None or not base.cv:
        means = [[name, fmt(sum(values) / len(values))] for name, values in pr.cv["metrics"].items()]
        missing = "" if base is None else " main's run has no per-fold scores to compare with."
        intro = f"Mean over {pr.cv['folds']}×{pr.cv['repeats']} folds.{missing}"
        return intro + "\n\n" + table(["metric", "this PR"], means)
    rows = []
    for name, evidence in comparison.cv_by_metric.items():
        old = base.cv["metrics"][name]
        new = pr.cv["metrics"][name]
        shown = f"**{name}**" if name == comparison.settings.metric else name
        rows.append(
            [shown, fmt(sum(old) / len(old)), fmt(sum(new) / len(new)), signed(evidence.interval.estimate, 4),
             interval_cell(evidence.interval), significance(name, evidence.interval)]
        )  # fmt: skip
    first = next(iter(comparison.cv_by_metric.values()), None)
    basis = f"Means over {first.basis}; {first.method}." if first else ""
    level = f"{comparison.settings.level:.0%}"
    return basis + "\n\n" + table(["metric", base.label, "this PR", "Δ", f"{level} interval", ""], rows)


def test_section(comparison: Comparison) -> str:
    pr, base, test = comparison.pr, comparison.base, comparison.test
    level = f"{comparison.settings.level:.0%}"
    if base is None:
        return table(["metric", "this PR"], [[name, fmt(value)] for name, value in pr.metrics.items()])
    if test is None:
        rows = []
        for name, value in pr.metrics.items():
            old = base.metrics.get(name)
            rows.append([name, fmt(old), fmt(value), signed(value - old, 4) if old is not None else "", ""])
        note = comparison.test_missing or "no per-row predictions"
        return f"Point estimates only: {note}.\n\n" + table(["metric", base.label, "this PR", "Δ", ""], rows)
    if test.paired:
        intro = (
            f"Both runs scored the same {test.rows[0]} test rows: paired bootstrap "
            f"({comparison.settings.bootstrap} resamples)."
        )
    else:
        intro = f"⚠️ Unpaired: {test.note}."
    rows = [
        interval_row(comparison, name, base.metrics.get(name), value, test.intervals.get(name))
        for name, value in pr.metrics.items()
    ]
    text = intro + "\n\n" + table(["metric", base.label, "this PR", "Δ", f"{level} interval", ""], rows)
    return text + mcnemar_line(test, base.label)


def interval_row(comparison: Comparison, name: str, old: float | None, new: float, interval: Interval | None):
    """A metric's row: main's value, this PR's, the difference, its interval and whether it is significant."""
    cells = [interval_cell(interval), significance(name, interval)] if interval else ["n/a", ""]
    shown = f"**{name}**" if name == comparison.settings.metric else name
    return [shown, fmt(old), fmt(new), signed(new - old, 4) if old is not None else "n/a", *cells]


def mcnemar_line(test: TestComparison, base_label: str) -> str:
    if not test.mcnemar:
        return ""
    only_new, only_old, p_value = test.mcnemar
    return (
        f"\n\nMcNemar's exact test on accuracy: {only_new} rows right only in this PR, {only_old} right only "
        f"in {base_label}, p = {p_value:.3g}."
    )


def retrained_section(comparison: Comparison) -> str:
    """Main's model and this PR's on rows neither trained on, when this PR retrains on a new data version."""
    retrained, base = comparison.retrained, comparison.base
    if retrained is None or base is None:
        return ""
    text = (
        f"This PR trains on `{retrained.source}`, the data plus {retrained.added} labelled production rows "
        f"(`mlops retrain-data`). Both models scored the same rows, only rows neither trained on; paired bootstrap "
        f"({comparison.settings.bootstrap} resamples)."
    )
    if retrained.missing:
        return f"{text}\n\nNot compared: {retrained.missing}."
    if not retrained.sets:
        return f"{text}\n\nNot compared: no such rows (none of the fresh rows fell in this PR's test split)."
    level = f"{comparison.settings.level:.0%}"
    for held in retrained.sets:
        rows = [
            interval_row(comparison, name, old, new, held.test.intervals.get(name))
            for name, (old, new) in held.scores.items()
        ]
        text += (
            f"\n\n**On {held.name}**: {held.rows} of {held.offered} rows (the others trained this PR's model).\n\n"
            + table(["metric", base.label, "this PR", "Δ", f"{level} interval", ""], rows)
        )
        text += mcnemar_line(held.test, base.label)
    return text


def slices_section(comparison: Comparison) -> str:
    slices, metric = comparison.slices, comparison.settings.metric
    if slices is None:
        return f"Not compared: {comparison.slices_missing}."
    if slices.unavailable:
        return f"Not compared: {slices.unavailable}."
    checked = len(slices.checked)
    how = (
        f"{checked} slices of at least {comparison.settings.slice_min_rows} rows (each categorical value, quantile "
        f"bins of the most important numeric features), out-of-fold predictions, paired bootstrap; intervals at "
        f"{slices.level:.2%} so that all {checked} hold together at {comparison.settings.level:.0%}."
    )
    if not slices.worse:
        return f"No slice got significantly worse. Checked {how}"
    rows = []
    for item in slices.worse:
        estimate = signed(item.interval.estimate)
        rows.append([item.name, item.rows, fmt(item.old), fmt(item.new), estimate, interval_cell(item.interval)])
    header = ["slice", "rows", comparison.base.label, "this PR", "Δ", "interval"]
    return (
        f"🔴 **{len(slices.worse)} slice{'s' if len(slices.worse) > 1 else ''} got significantly worse in {metric}** "
        f"(by more than report.max_drop, {comparison.settings.max_drop:g}), whatever the average says:\n\n"
        + table(header, rows, MAX_TABLE_ROWS, " in report.html")
        + f"\n\nChecked {how}"
    )


def calibration_section(comparison: Comparison) -> str:
    runs = comparison.calibration
    if not runs:
        return "Not available: no per-row test predictions."
    rows = [[label, fmt(item.brier), fmt(item.ece), item.rows] for label, item in runs.items()]
    text = table(["run", "Brier score", "expected calibration error", "test rows"], rows)
    first = next(iter(runs.values()))
    binary = len(comparison.pr.per_class) == 2
    what = "the positive class's probability" if binary else "the top class's probability"
    return (
        text
        + f"\n\nLower is better for both. Reliability of this PR over 10 bins of {what}: bars the observed frequency "
        "(0 in an empty bin), line where a calibrated model would be.\n\n" + mermaid_reliability(first.bins)
    )


# ---------------------------------------------------------------- the whole comment


def sections(comparison: Comparison, context: dict[str, str]) -> list[tuple[str, str, int]]:
    """(title for a trimming note, text, priority): priority 0 is never dropped; higher numbers go first."""
    pr, base, regression = comparison.pr, comparison.base, comparison.regression
    changed = changed_params(pr, base)
    retrained = retrained_section(comparison)
    calibration = "" if regression else "### Calibration (test split)\n\n" + calibration_section(comparison)
    return [
        ("", headline(comparison), 0),
        ("", verdict_section(comparison, context), 0),
        ("", checks_section(pr) and "### Checks\n\n" + checks_section(pr), 0),
        ("", "### Cross-validation (the verdict's evidence)\n\n" + cv_section(comparison), 0),
        ("", "### Slices\n\n" + slices_section(comparison), 0),
        ("", "### Test split\n\n" + test_section(comparison), 0),
        ("", retrained and "### Retrained on production rows\n\n" + retrained, 0),
        ("the calibration chart", calibration, 3),
        ("", "### What changed\n\n" + (changed + "\n\n" if changed else "") + data_table(pr, base), 0),
        ("", validation_status(pr.validation), 0),
        ("the validation summary", validation_details(pr.validation), 2),
        ("the list of all parameters", all_params(pr), 5),
        ("", "### Model\n\n" + facts_table(pr, base), 0),
        ("the confusion matrices and per-class scores", "" if regression else confusion_details(pr, base), 4),
        ("the charts", charts(pr, base, regression), 1),
        ("", context_line(pr, context), 0),
    ]


def render(comparison: Comparison, context: dict[str, str], limit: int | None = LIMIT) -> str:
    """The comment; over `limit` characters, whole sections are dropped (highest priority number first)."""
    parts = [part for part in sections(comparison, context) if part[1]]
    dropped: list[str] = []
    while limit is not None and len(join(parts, dropped)) > limit:
        candidates = [part for part in parts if part[2] > 0]
        if not candidates:
            break
        victim = max(candidates, key=lambda part: part[2])
        parts.remove(victim)
        dropped.append(victim[0])
    return join(parts, dropped)


def join(parts: list[tuple[str, str, int]], dropped: list[str]) -> str:
    texts = [text for _, text, _ in parts]
    if dropped:
        texts.insert(
            -1,
            f"✂️ Trimmed to fit GitHub's comment limit: {', '.join(dropped)} (all in report.html, in the run's "
            "artifacts).",
        )
    return "\n\n".join(texts) + "\n"
