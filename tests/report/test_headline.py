"""The comment's headline and its checks section: each wording case, from the report's own data types."""

from __future__ import annotations

import pytest

from mlops.config import ReportParams
from mlops.report import markdown
from mlops.report.results import Comparison, Slice, Slices, Verdict
from mlops.report.runs import Run
from mlops.report.statistics import Interval

SETTINGS = ReportParams(metric="f1")
CHECKS_FAILED = {
    "passed": False,
    "metric": "f1",
    "model": {"f1": 0.0},
    "baseline": {"f1": 0.0},
    "baseline_model": "the majority class, with the class shares",
    "decision": {"positive_class": "yes", "threshold": 0.5, "rule": "yes when P(yes) > 0.5"},
    "checks": [
        {"name": "beats the baseline", "passed": False, "detail": "f1 0.0000 against 0.0000", "fix": "set X"},
        {"name": "every class predicted", "passed": True, "detail": "recall of each class ...", "fix": "set Y"},
    ],
}


def comparison(status: str, worse_slices: int, checks: dict | None = None) -> Comparison:
    interval = Interval(-0.05, -0.08, -0.02, 0.95, 0.001)
    slice_ = Slice("region = north", 40, 0.7, 0.9, interval)
    slices = Slices(checked=["region = north"] * 20, worse=[slice_] * worse_slices)
    pr = Run("this PR", "b" * 40, {"f1": 0.8}, checks=checks)
    base = Run("main@aaaaaaa", "a" * 40, {"f1": 0.9})
    return Comparison(pr, base, SETTINGS, Verdict(status, "sentence"), slices=slices)


@pytest.mark.parametrize(
    ("status", "worse", "expected"),
    [
        ("worse", 16, "## ❌ Model report: worse in f1 against main@aaaaaaa, and 16 slices got worse"),
        ("worse", 1, "## ❌ Model report: worse in f1 against main@aaaaaaa, and 1 slice got worse"),
        ("better", 2, "## ✅ Model report: better in f1 against main@aaaaaaa, but 2 slices got worse"),
        ("unchanged", 3, "## ⚪ Model report: no detectable change in f1 against main@aaaaaaa, but 3 slices got worse"),
        ("worse", 0, "## ❌ Model report: worse in f1 against main@aaaaaaa"),
    ],
)
def test_slices_that_got_worse_join_the_verdict_with_and_when_it_is_worse_too_else_but(status, worse, expected):
    assert markdown.headline(comparison(status, worse)) == expected


def test_failed_checks_lead_the_headline_and_get_a_section_with_what_to_change():
    failing = comparison("better", 0, CHECKS_FAILED)
    assert markdown.headline(failing) == (
        "## ❌ Model report: failed 1 of 2 checks, not shipped; better in f1 against main@aaaaaaa"
    )
    section = markdown.checks_section(failing.pr)
    assert section.startswith("❌ **The model failed 1 of 2 checks**")
    assert "| ❌ | beats the baseline | f1 0.0000 against 0.0000 | set X |" in section
    assert "| ✅ | every class predicted | recall of each class ... |  |" in section
    assert "Decision: yes when P(yes) > 0.5." in section
    rendered = markdown.render(failing, {"baseline_source": "metrics committed on main"})
    assert "### Checks" in rendered and rendered.index("### Checks") < rendered.index("### Cross-validation")


def test_without_a_checks_result_the_report_has_no_checks_section():
    plain = comparison("better", 0)
    assert markdown.checks_section(plain.pr) == ""
    assert "### Checks" not in markdown.render(plain, {})
