"""What the report found, as data: the evidence, the verdict, and each comparison the renderers show."""

from __future__ import annotations

from dataclasses import dataclass, field

from mlops.config import ReportParams
from mlops.metrics import direction
from mlops.report.runs import Run
from mlops.report.statistics import Interval

STATUS_WORDS = {
    "better": "better",
    "worse": "worse",
    "unchanged": "no detectable change",
    "none": "no baseline yet",
    "unknown": "no interval",
    "invalid": "data validation failed",
}


@dataclass(frozen=True)
class Evidence:
    """An interval of this run's metric minus the baseline's, and what it rests on."""

    metric: str
    interval: Interval
    basis: str  # e.g. "5×2 paired folds of 569 rows"
    rows: int
    method: str  # e.g. "corrected resampled t-test"
    note: str = ""  # why a comparison is unpaired

    def improvement(self) -> tuple[float, float]:
        """The interval turned so that positive is better, whatever the metric's direction."""
        sign = direction(self.metric)
        return tuple(sorted((sign * self.interval.low, sign * self.interval.high)))  # type: ignore[return-value]


@dataclass(frozen=True)
class Verdict:
    status: str  # better | worse | unchanged | none (no baseline) | unknown (no interval) | invalid (bad data)
    sentence: str
    evidence: Evidence | None = None

    @property
    def icon(self) -> str:
        return {"better": "✅", "worse": "❌", "invalid": "❌", "unchanged": "⚪"}.get(self.status, "ℹ️")

    @property
    def words(self) -> str:
        return STATUS_WORDS[self.status]


@dataclass
class TestComparison:
    paired: bool
    rows: tuple[int, int]  # (this run's test rows, the baseline's)
    intervals: dict[str, Interval] = field(default_factory=dict)
    mcnemar: tuple[int, int, float] | None = None
    note: str = ""


@dataclass(frozen=True)
class Slice:
    name: str  # e.g. "region = north" or "age in [31.2, 40.5)"
    rows: int
    new: float
    old: float
    interval: Interval


@dataclass
class Slices:
    checked: list[str] = field(default_factory=list)
    worse: list[Slice] = field(default_factory=list)
    level: float = 0.95  # the level of each slice's interval (simultaneous over the slices checked)
    unavailable: str = ""  # why no slice was judged


@dataclass(frozen=True)
class Calibration:
    brier: float
    ece: float
    bins: list[dict[str, float]]
    rows: int


@dataclass
class HeldOut:
    """Rows both models scored that neither trained on (report.retrained)."""

    name: str  # e.g. "fresh labelled rows"
    rows: int  # rows scored
    offered: int  # rows of the set before leaving out those this PR's model trained on
    test: TestComparison
    scores: dict[str, tuple[float, float]]  # metric -> (main's model, this PR's) on these rows


@dataclass
class Retrained:
    """This PR retrains on a new data version from `mlops retrain-data`."""

    source: str  # the new data version
    added: int  # production rows it added
    sets: list[HeldOut] = field(default_factory=list)
    missing: str = ""  # why no rows could be scored


@dataclass
class Comparison:
    """All the report says about this run against the baseline."""

    pr: Run
    base: Run | None
    settings: ReportParams
    verdict: Verdict
    cv_by_metric: dict[str, Evidence] = field(default_factory=dict)
    test: TestComparison | None = None
    test_missing: str = ""
    slices: Slices | None = None
    slices_missing: str = ""
    calibration: dict[str, Calibration] = field(default_factory=dict)
    regression: bool = False  # data.task: regression (no classes, probabilities or calibration)
    retrained: Retrained | None = None  # set by report.retrained when this PR retrains on a new data version
