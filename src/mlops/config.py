"""The typed contents of params.yaml, checked once when a command starts.

A wrong key or value stops the command with one line naming it, e.g.
`params.yaml: train.estimator: unknown estimator 'svm'; choose one of: 'random_forest', ...`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from mlops import metrics, paths
from mlops.errors import MlopsError

# A Prometheus duration as params.yaml's canary.window takes it: 90s, 10m, 1h.
DURATION = r"^[1-9][0-9]*[smh]$"


def registered_estimator(name: str) -> str:
    """A name in model.ESTIMATORS, the one list of estimators (model is imported here, not at start-up:
    it imports scikit-learn, which commands that fail before reading params never need)."""
    from mlops.model import estimator_problem

    problem = estimator_problem(name)
    if problem:
        raise PydanticCustomError("estimator", "{problem}", {"problem": problem})
    return name


EstimatorName = Annotated[str, AfterValidator(registered_estimator)]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataParams(Section):
    source: str = Field(description="sklearn:<name> for a bundled dataset, or a CSV/Parquet path")
    target: str
    task: Literal["classification", "regression"] = Field(
        default="classification", description="classification: predict a class; regression: a number"
    )


class ColumnsParams(Section):
    """The role of each column that is not an ordinary feature (docs/data.md); `mlops expectations infer` proposes."""

    ids: list[str] = Field(
        default_factory=list,
        description="identify a row: kept for joins, prediction logs and feedback; never a feature",
    )
    drop: list[str] = Field(default_factory=list, description="left out of the model (constants, leaks, free text)")
    dates: dict[str, str] = Field(
        default_factory=dict,
        description="column: its strptime format; the model reads its year, month, weekday and days since the "
        "earliest training date",
    )
    max_categories: dict[str, Annotated[int, Field(ge=1)]] = Field(
        default_factory=dict,
        description="column: how many of its most frequent values the model keeps; the others are one value, (other)",
    )

    @model_validator(mode="after")
    def one_role_each(self) -> ColumnsParams:
        roles = [
            ("ids", self.ids),
            ("drop", self.drop),
            ("dates", list(self.dates)),
            ("max_categories", list(self.max_categories)),
        ]
        seen: dict[str, str] = {}
        for role, names in roles:
            for name in names:
                if name in seen:
                    raise PydanticCustomError(
                        "roles",
                        "column {name} has two roles, {first} and {second}: keep one",
                        {"name": repr(name), "first": seen[name], "second": role},
                    )
                seen[name] = role
        return self

    @property
    def named(self) -> dict[str, str]:
        """{column: its role} for every column given one."""
        return {
            **dict.fromkeys(self.ids, "ids"),
            **dict.fromkeys(self.drop, "drop"),
            **dict.fromkeys(self.dates, "dates"),
            **dict.fromkeys(self.max_categories, "max_categories"),
        }


class PrepareParams(Section):
    test_size: float = Field(gt=0, lt=1)


class TrainParams(Section):
    estimator: EstimatorName
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    class_weight: Literal["balanced", "none"] = Field(
        default="balanced",
        description="classification: balanced weighs each class by the inverse of its share, so a rare class "
        "counts as much as a common one; none weighs every row alike (regression ignores it)",
    )
    threshold: Annotated[float, Field(gt=0, lt=1)] | Literal["cv"] = Field(
        default=0.5,
        description="two classes: the positive class when its probability is at least this; cv: the threshold that "
        "maximises threshold_metric on out-of-fold predictions of the training split (regression ignores it)",
    )
    threshold_metric: Literal[metrics.LABEL_METRICS] = Field(  # type: ignore[valid-type]
        default="balanced_accuracy", description="what threshold: cv maximises: " + ", ".join(metrics.LABEL_METRICS)
    )


class EvaluateParams(Section):
    importance_rows: int = Field(
        default=10_000, gt=0, description="permutation importance on a seeded sample of at most this many test rows"
    )


class MlflowParams(Section):
    experiment: str
    registered_model: str


class ReportParams(Section):
    """How the pull-request report compares this model with main's, and the rule of its verdict."""

    metric: str = Field(
        default=metrics.DEFAULT_METRIC["classification"],
        description=f"a key of {paths.METRICS}; {metrics.DEFAULT_METRIC['regression']} by default for regression",
    )
    max_drop: float = Field(default=0.01, ge=0, description="worse: the interval lies below minus this")
    min_effect: float = Field(default=0.0, ge=0, description="better: the interval lies above this")
    level: float = Field(default=0.95, gt=0.5, lt=1, description="confidence level of every interval")
    fail_on_regression: bool = False
    cv_folds: int = Field(default=5, ge=2, le=20)
    cv_repeats: int = Field(default=2, ge=1, le=20)
    cv_seed: int = Field(default=0, description="fixes the folds, apart from `seed`: a new model seed meets them")
    cv_max_rows: int = Field(default=20_000, ge=100, description="more rows: a stratified subsample")
    bootstrap: int = Field(default=2000, ge=200, le=100_000, description="resamples of the test-split intervals")
    slice_min_rows: int = Field(default=30, ge=5, description="smallest slice judged")
    slice_numeric_features: int = Field(default=3, ge=0, description="most important numeric features cut into bins")
    slice_bins: int = Field(default=4, ge=2, le=20, description="quantile bins per numeric feature")


class RetrainParams(Section):
    """Which labelled production rows the next version of the training data takes (mlops retrain-data)."""

    max_production_rows: int = Field(default=5000, ge=1, description="the newest this many labelled rows at most")
    max_age_days: float = Field(default=90, gt=0, description="rows predicted longer ago than this are left out")


class MonitorParams(Section):
    """Drift detection (mlops drift); the defaults are those params.yaml ships with."""

    psi_threshold: float = Field(default=0.25, gt=0)
    p_value: float = Field(default=0.001, gt=0, lt=1)
    min_drifted_features: int = Field(default=1, ge=1)
    bins: int = Field(default=10, ge=2, le=100)
    concept_metrics: list[str] = Field(
        default_factory=lambda: list(metrics.DEFAULT_CONCEPT_METRICS["classification"]),
        description=f"{' and '.join(metrics.DEFAULT_CONCEPT_METRICS['regression'])} by default for regression; "
        + "; ".join(f"{task}: {', '.join(metrics.concept_metrics(task))}" for task in metrics.TASK_METRICS),
    )
    concept_max_drop: float = Field(default=0.05, gt=0, lt=1)
    concept_min_rows: int = Field(default=50, ge=1)
    source: str = str(paths.PRODUCTION_DIR)
    retrain_on_drift: bool = True
    retrain_every: str = Field(
        default="off",
        pattern=r"^(off|[1-9][0-9]*[dw])$",
        description="retrain on a schedule even without drift: off, or a period such as 7d or 4w",
    )
    retrain: RetrainParams = Field(default_factory=RetrainParams)


class ChecksParams(Section):
    """What a model must do before it ships: the `checks` stage (and the project tests) hold it to these,
    on the cross-validation folds of the `crossval` stage."""

    beat_baseline: bool = Field(
        default=True,
        description="the primary metric (report.metric) beats the trivial baseline's on the same folds: the "
        "majority class with the class shares as probabilities, or the mean for regression",
    )
    baseline_margin: float = Field(
        default=0.01,
        ge=0,
        description="by at least this much: a score (higher is better) by this many points, an error (lower is "
        "better) by this fraction of the baseline's",
    )
    every_class_predicted: bool = Field(default=True, description="classification: no class has a recall of 0")
    min_class_recall: float | None = Field(
        default=None, ge=0, le=1, description="classification: every class has at least this recall (unset: no floor)"
    )
    min_r2: float | None = Field(default=None, le=1, description="regression: at least this R² (unset: no floor)")


class ServeParams(Section):
    runtime: Literal["onnx", "sklearn"] = Field(
        default="onnx", description=f"onnx: fast, needs a convertible model; sklearn: loads {paths.MODEL}"
    )
    unknown_categories: Literal["reject", "accept"] = Field(
        default="reject",
        description="a category not seen in training: refuse the request (reject, 400), or predict it as the "
        "encoder's unknown (all zeros) and count it in mlops_out_of_range_total (accept)",
    )
    out_of_range: Literal["accept", "reject"] = Field(
        default="accept",
        description="a number outside the training range or a missing value where training had none: "
        "predict and count it (accept) or refuse the request (reject, 400)",
    )
    max_batch_rows: int = Field(default=10_000, gt=0, description="most rows one request may hold")
    parity_tolerance: float = Field(default=1e-5, gt=0, description="largest ONNX vs scikit-learn probability gap")
    prediction_tolerance: float | None = Field(
        default=None,
        gt=0,
        description="regression: largest ONNX vs scikit-learn prediction gap, in the target's units "
        "(unset: 1e-5 times the largest absolute prediction on the test split)",
    )


class CanaryParams(Section):
    """A new release first takes a share of the traffic; `mlops canary check` then promotes it or rolls it back."""

    percent: int = Field(default=10, ge=1, le=50, description="share of requests the canary takes at first")
    window: str = Field(default="10m", pattern=DURATION, description="how far back the check looks: 90s, 10m, 1h")
    min_requests: int = Field(default=100, ge=1, description="each side must have answered this many in the window")
    max_error_rate_increase: float = Field(
        default=0.01, ge=0, lt=1, description="roll back when the canary's 5xx share is this much above the stable's"
    )
    max_p99_ratio: float = Field(default=1.5, ge=1, description="roll back when its p99 latency is this many times...")
    min_p99_increase: float = Field(
        default=0.025, ge=0, description="...the stable's and at least this many seconds more (both must hold)"
    )
    max_mix_shift: float = Field(
        default=0.1,
        gt=0,
        lt=1,
        description="roll back when a class's share of the predictions moves this much "
        "(regression: the mean prediction, by this part of the stable's 10-90% range)",
    )


class Params(Section):
    seed: int
    n_jobs: int = Field(default=-1, ge=-1, description="CPU cores for training and evaluation; -1: all")
    data: DataParams
    columns: ColumnsParams = Field(default_factory=ColumnsParams)
    prepare: PrepareParams
    train: TrainParams
    evaluate: EvaluateParams = Field(default_factory=EvaluateParams)
    mlflow: MlflowParams
    report: ReportParams = Field(default_factory=ReportParams)
    monitor: MonitorParams = Field(default_factory=MonitorParams)
    serve: ServeParams = ServeParams()
    checks: ChecksParams = Field(default_factory=ChecksParams)
    canary: CanaryParams = Field(default_factory=CanaryParams)

    @model_validator(mode="before")
    @classmethod
    def metrics_of_the_task(cls, raw: Any) -> Any:
        """report.metric and monitor.concept_metrics default to metrics of data.task."""
        if not isinstance(raw, dict):
            return raw
        data = raw.get("data")
        task = data.get("task", "classification") if isinstance(data, dict) else "classification"
        if task not in metrics.TASK_METRICS:
            return raw  # data.task itself is reported
        metric, concept = metrics.DEFAULT_METRIC[task], list(metrics.DEFAULT_CONCEPT_METRICS[task])
        raw = dict(raw)
        for section, key, default in (("report", "metric", metric), ("monitor", "concept_metrics", concept)):
            given = raw.get(section, {})
            if isinstance(given, dict) and key not in given:
                raw[section] = {**given, key: default}
        return raw

    @field_validator("columns")
    @classmethod
    def target_has_no_role(cls, columns: ColumnsParams, info: ValidationInfo) -> ColumnsParams:
        data = info.data.get("data")
        if data is not None and data.target in columns.named:
            role = columns.named[data.target]
            raise PydanticCustomError(
                "roles", "the target {target} cannot be in columns.{role}", {"target": repr(data.target), "role": role}
            )
        return columns

    @field_validator("train")
    @classmethod
    def estimator_does_the_task(cls, train: TrainParams, info: ValidationInfo) -> TrainParams:
        """train.estimator has a scikit-learn class for data.task (validated before it)."""
        from mlops.model import estimator_problem

        data = info.data.get("data")
        problem = estimator_problem(train.estimator, data.task) if data is not None else None
        if problem:
            raise PydanticCustomError("task_mismatch", "{problem}", {"problem": problem})
        return train

    @field_validator("report")
    @classmethod
    def report_metric_fits_the_task(cls, report: ReportParams, info: ValidationInfo) -> ReportParams:
        check_metrics(info, [report.metric], "report.metric", metrics.TASK_METRICS)
        return report

    @field_validator("monitor")
    @classmethod
    def concept_metrics_fit_the_task(cls, monitor: MonitorParams, info: ValidationInfo) -> MonitorParams:
        concept = {task: metrics.concept_metrics(task) for task in metrics.TASK_METRICS}
        check_metrics(info, monitor.concept_metrics, "monitor.concept_metrics", concept)
        return monitor

    @field_validator("n_jobs")
    @classmethod
    def some_cores(cls, value: int) -> int:
        if value == 0:
            raise ValueError("0 cores cannot run anything: use -1 for all cores, or a count from 1")
        return value


def check_metrics(info: ValidationInfo, names: list[str], key: str, allowed: dict[str, tuple[str, ...]]) -> None:
    """Each of `names` is in `allowed` for data.task (validated before `key`), else one line saying which are."""
    data = info.data.get("data")
    if data is None:
        return
    choices = allowed[data.task]
    wrong = [name for name in names if name not in choices]
    if wrong:
        raise PydanticCustomError(
            "task_mismatch",
            "{wrong} is not a {task} metric (data.task); choose from {choices} ({key})",
            {"wrong": ", ".join(wrong), "task": data.task, "choices": ", ".join(choices), "key": key},
        )


def load_params(path: Path | str = paths.PARAMS) -> Params:
    return validated(Params, read_params(path), path)


def load_canary(path: Path | str = paths.PARAMS) -> CanaryParams:
    """params.yaml's canary section alone: a release's tools need no estimator, nor scikit-learn to check one."""
    raw = read_params(path)
    if not isinstance(raw, dict):
        validated(Params, raw, path)  # says what the whole file should be
    return validated(CanaryParams, raw.get("canary") or {}, path, ("canary",))


def read_params(path: Path | str) -> Any:
    path = Path(path)
    if not path.is_file():
        raise MlopsError(f"{path} not found: run commands from the repository root")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise MlopsError(f"{path} is not valid YAML: {str(exc).splitlines()[0]}") from exc
    return raw


def validated(model: type[BaseModel], raw: Any, path: Path | str, where: tuple[str, ...] = ()):
    """`raw` as `model`, or MlopsError naming each bad key (under `where`) and what is wrong with it."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in (*where, *error['loc'])) or '(top level)'}: {error['msg']}"
            for error in exc.errors()
        )
        raise MlopsError(f"{path}: {problems}") from exc


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"train": {"estimator": "rf"}} -> {"train.estimator": "rf"}, for experiment tracking."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat
