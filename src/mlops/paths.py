"""Where each stage reads and writes, relative to the repository root (where dvc.yaml is).

dvc.yaml declares the same paths; keep the two in step.
"""

from pathlib import Path

PARAMS = Path("params.yaml")

SOURCE_DIR = Path("data/source")  # the user's own data files, tracked with `dvc add`
RAW = Path("data/raw/dataset.csv")

PREPARED_DIR = Path("data/prepared")
TRAIN = PREPARED_DIR / "train.parquet"
TEST = PREPARED_DIR / "test.parquet"
SCHEMA = PREPARED_DIR / "schema.json"

# Great Expectations file data context: the expectation suite for the raw data, committed.
GX_DIR = Path("gx")
SUITE_NAME = "raw_dataset"
SUITE = GX_DIR / "expectations" / f"{SUITE_NAME}.json"
VALIDATION_DIR = Path("reports/validation")
VALIDATION_RESULT = VALIDATION_DIR / "result.json"
VALIDATION_SUMMARY = VALIDATION_DIR / "summary.md"
DATA_DOCS_DIR = VALIDATION_DIR / "docs"  # GX Data Docs HTML, a build artifact (git-ignored)
BATCH_VALIDATION_DIR = VALIDATION_DIR / "batch"  # results of `mlops validate --data PATH` (git-ignored)

MODELS_DIR = Path("models")
MODEL = MODELS_DIR / "model.skops"
TRAINING_INFO = MODELS_DIR / "training.json"  # MLflow run, model version, dataset hash, timings
ONNX_MODEL = MODELS_DIR / "model.onnx"  # what the prediction service runs
METADATA = MODELS_DIR / "metadata.json"  # what the prediction service needs to know about it

REPORTS_DIR = Path("reports")
METRICS = REPORTS_DIR / "metrics.json"
PER_CLASS = REPORTS_DIR / "per_class.json"
PLOTS_DIR = REPORTS_DIR / "plots"
FIGURES_DIR = REPORTS_DIR / "figures"
PREDICTIONS = Path("data/predictions/test.csv")

# Outside the pipeline: contracted outputs of other stages that the report reads, and the report itself.
DVC_LOCK = Path("dvc.lock")
VALIDATION_DIR = REPORTS_DIR / "validation"
VALIDATION_RESULT = VALIDATION_DIR / "result.json"
VALIDATION_SUMMARY = VALIDATION_DIR / "summary.md"
ONNX_MODEL = MODELS_DIR / "model.onnx"
MODEL_METADATA = MODELS_DIR / "metadata.json"
PR_REPORT_DIR = REPORTS_DIR / "pr"  # report.md, report.html, facts.json, figures
DRIFT_DIR = REPORTS_DIR / "drift"  # mlops drift: drift.json, drift.md, drift.html
DRIFT_REPORT = DRIFT_DIR / "drift.json"
PRODUCTION_DIR = Path("data/production")  # production batches (`mlops simulate --output`) and fetched prediction logs
PROMETHEUS_TRAINING_MIX = Path("deploy/prometheus/rules/training_mix.yml")  # mlops alert-rules
FEEDBACK_DIR = REPORTS_DIR / "feedback"  # mlops feedback: feedback.json, feedback.md
LABELLED = Path("data/feedback/labelled.parquet")  # logged predictions joined to their labels: training candidates
RETRAIN_REPORT = REPORTS_DIR / "retrain.json"  # mlops retrain-data: what the new data version holds
