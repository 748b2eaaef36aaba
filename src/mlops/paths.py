"""Where each stage reads and writes, relative to the repository root (where dvc.yaml is).

The pipeline's paths are declared once, in paths.yaml beside this module: dvc.yaml reads
that file too (`vars:`). The rest are derived from them, or belong to the tools around
the pipeline.
"""

from pathlib import Path

import yaml

DECLARED: dict[str, str] = yaml.safe_load(Path(__file__).with_name("paths.yaml").read_text(encoding="utf-8"))["paths"]


def declared(name: str) -> Path:
    return Path(DECLARED[name])


PARAMS = declared("params")
SOURCE_DIR = declared("source_dir")
RAW = declared("raw")

# The Great Expectations file data context, and the suite in it (the data contract, committed).
GX_DIR = declared("gx_dir")
SUITE = declared("suite")
SUITE_NAME = SUITE.stem
VALIDATION_RESULT = declared("validation_result")
VALIDATION_SUMMARY = declared("validation_summary")
VALIDATION_DIR = VALIDATION_RESULT.parent
DATA_DOCS_DIR = VALIDATION_DIR / "docs"  # GX Data Docs HTML, a build artifact (git-ignored)
BATCH_VALIDATION_DIR = VALIDATION_DIR / "batch"  # results of `mlops validate --data PATH` (git-ignored)

TRAIN = declared("train")
TEST = declared("test")
SCHEMA = declared("schema")
MODEL = declared("model")
TRAINING_INFO = declared("training_info")
PREDICTIONS = declared("predictions")
METRICS = declared("metrics")
PER_CLASS = declared("per_class")
PLOTS_DIR = declared("plots_dir")
FIGURES_DIR = declared("figures_dir")
CV_SCORES = declared("cv_scores")
CV_PLAN = declared("cv_plan")
CV_TIMING = declared("cv_timing")
CV_PREDICTIONS = declared("cv_predictions")
CHECKS = declared("checks")
ONNX_MODEL = declared("onnx_model")
MODEL_METADATA = declared("model_metadata")

# Outside the pipeline: the tools around it.
DVC_LOCK = Path("dvc.lock")
PR_REPORT_DIR = Path("reports/pr")  # mlops report: report.md, report.html, facts.json, figures
DRIFT_DIR = Path("reports/drift")  # mlops drift: drift.json, drift.md, drift.html
DRIFT_REPORT = DRIFT_DIR / "drift.json"
DRIFT_SUMMARY = DRIFT_DIR / "drift.md"
PRODUCTION_DIR = Path("data/production")  # production batches (`mlops simulate --output`) and fetched prediction logs
PROMETHEUS_RULES = Path("deploy/prometheus/rules/generated.yml")  # mlops alert-rules: training class mix, drift alert
FEEDBACK_DIR = Path("reports/feedback")  # mlops feedback: feedback.json, feedback.md
FEEDBACK_REPORT = FEEDBACK_DIR / "feedback.json"
FEEDBACK_SUMMARY = FEEDBACK_DIR / "feedback.md"
LABELLED = Path("data/feedback/labelled.parquet")  # logged predictions joined to their labels: training candidates
RETRAIN_REPORT = Path("reports/retrain.json")  # mlops retrain-data: what the new data version holds

# The paths the workflows (train.yml, monitor.yml) read and upload, as their step
# `python -m mlops.paths >> "$GITHUB_OUTPUT"` gives them.
WORKFLOW = {
    "raw": RAW,
    "drift_dir": DRIFT_DIR,
    "drift_summary": DRIFT_SUMMARY,
    "feedback_dir": FEEDBACK_DIR,
    "feedback_report": FEEDBACK_REPORT,
    "feedback_summary": FEEDBACK_SUMMARY,
    "labelled": LABELLED,
    "labelled_dir": LABELLED.parent,
    "retrain_report": RETRAIN_REPORT,
}

if __name__ == "__main__":
    for name, path in WORKFLOW.items():
        print(f"{name}={path.as_posix()}")
