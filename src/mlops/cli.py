"""The `mlops` command line: one subcommand per pipeline stage, plus tools around them.

Each subcommand imports only what it needs, so `mlops --help` is instant. A problem the
user can fix is printed as one line (`mlops <command>: error: ...`), exit status 1.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback

from mlops.errors import MlopsError

# Stage name -> what it does. Each is `mlops.pipeline.<name>.main(params)`, run by dvc.yaml.
STAGES = {
    "ingest": "materialise the raw dataset under data/raw/",
    "validate": "check the raw dataset against the expectation suite in gx/ (stops the pipeline on bad data)",
    "prepare": "clean, derive the schema, split into train and test",
    "train": "fit the model and track it in MLflow",
    "evaluate": "score the model on the test split: metrics, plots, figures",
    "crossval": "repeated k-fold cross-validation on all prepared rows: per-fold scores for the report's verdict",
    "export": "convert the model to ONNX, check it matches, write what the service needs",
}

# Tool name -> (module, what it does). The module defines `add_arguments(parser)` and
# `run(args) -> int` (the exit status); keep its top-level imports light.
TOOLS: dict[str, tuple[str, str]] = {
    "report": ("mlops.report", "compare the model with a baseline: the pull-request report (reports/pr/)"),
    "smoke": (
        "mlops.release.smoke",
        "post the test split to a running service and check it predicts what the pipeline did",
    ),
    "sign": ("mlops.release.sign", "sign the model files the service loads (models/model.sig): key pair or Sigstore"),
    "verify": ("mlops.release.verify", "check the model files against their signature and the configured signer"),
    "promote": ("mlops.release.promote", "point a registry alias (default: champion) at the exported model's version"),
    "drift": ("mlops.monitoring.drift_command", "compare production data with the training data (exit 3 on drift)"),
    "feedback": ("mlops.monitoring.feedback", "join late labels to the logged predictions; report what cannot be used"),
    "retrain-data": (
        "mlops.monitoring.retrain_data",
        "build the next training data: the source plus labelled production rows, validated, tracked with DVC",
    ),
    "fetch-logs": ("mlops.monitoring.fetch_logs", "copy the newest prediction logs from storage into data/production/"),
    "simulate": ("mlops.monitoring.simulate", "replay test rows against the service, or write a batch, with a shift"),
    "alert-rules": ("mlops.monitoring.alert_rules", "write the Prometheus rules holding the training class mix"),
    "expectations": ("mlops.validation.expectations", "infer a starter expectation suite (gx/) from the data"),
    "rename": ("mlops.rename", "name the project: MLflow experiment, registered model, image, README title"),
}

# Extra options of a stage: flag -> help. Passed to the stage's main() as keyword arguments.
STAGE_OPTIONS = {
    "validate": {"--data": "check this CSV or Parquet file instead (results in reports/validation/batch/)"},
}

TELEMETRY_OFF = {"DVC_NO_ANALYTICS": "1", "MLFLOW_DISABLE_TELEMETRY": "true", "GX_ANALYTICS_ENABLED": "false"}


def run_stage(args: argparse.Namespace) -> int:
    from mlops.config import load_params

    params = load_params(args.params)
    options = {flag.lstrip("-"): getattr(args, flag.lstrip("-")) for flag in STAGE_OPTIONS.get(args.command, {})}
    importlib.import_module(f"mlops.pipeline.{args.command}").main(params, **options)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mlops", description="Run the ML pipeline's stages and tools.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, help_text in STAGES.items():
        stage = commands.add_parser(name, help=help_text, description=help_text)
        stage.add_argument("--params", default="params.yaml", help="parameters file (default: %(default)s)")
        for flag, flag_help in STAGE_OPTIONS.get(name, {}).items():
            stage.add_argument(flag, metavar="PATH", help=flag_help)
        stage.set_defaults(handler=run_stage)
    for name, (module_name, help_text) in TOOLS.items():
        module = importlib.import_module(module_name)
        tool = commands.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(tool)
        tool.set_defaults(handler=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    for name, value in TELEMETRY_OFF.items():
        os.environ.setdefault(name, value)
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except MlopsError as exc:
        print(f"mlops {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a bug, not bad input: keep the traceback out of the way unless asked
        if os.environ.get("MLOPS_DEBUG"):
            traceback.print_exc()
        else:
            problem = f"{type(exc).__name__}: {exc}"
            print(
                f"mlops {args.command}: unexpected error: {problem} (MLOPS_DEBUG=1 shows the traceback)",
                file=sys.stderr,
            )
        return 2
