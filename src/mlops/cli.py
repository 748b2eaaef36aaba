"""The `mlops` command line: one subcommand per pipeline stage, plus tools around them.

Each subcommand imports only what it needs: a stage's module when it runs, a tool's module
when it is named (`mlops --help` imports none of them, nor numpy or pandas). A problem the
user can fix is printed as one line (`mlops <command>: error: ...`), exit status 1.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback

from mlops import paths
from mlops.errors import MlopsError

# Stage name -> what it does, in dvc.yaml's order (tests/unit/test_stage_deps.py compares them).
# Each is `mlops.pipeline.<name>.main(params)`, run by dvc.yaml.
STAGES = {
    "ingest": f"materialise the raw dataset under {paths.RAW.parent}/",
    "validate": (
        f"check the raw dataset against the expectation suite in {paths.GX_DIR}/ (stops the pipeline on bad data)"
    ),
    "prepare": "clean, derive the schema, split into train and test",
    "train": "fit the model and track it in MLflow",
    "evaluate": "score the model on the test split: metrics, plots, figures",
    "crossval": "repeated k-fold cross-validation on all prepared rows: per-fold scores for the report's verdict",
    "checks": (
        "hold the model to `checks:` in params.yaml on the cross-validation folds: beat the trivial baseline, "
        "predict every class (stops the pipeline before export when one fails)"
    ),
    "export": "convert the model to ONNX, check it matches, write what the service needs",
}

# Tool name -> (module, what it does). The module defines `add_arguments(parser)` and
# `run(args) -> int` (the exit status); keep its top-level imports light.
TOOLS: dict[str, tuple[str, str]] = {
    "report": ("mlops.report", f"compare the model with a baseline: the pull-request report ({paths.PR_REPORT_DIR}/)"),
    "smoke": (
        "mlops.release.smoke",
        "post the test split to a running service and check it predicts what the pipeline did",
    ),
    "canary": (
        "mlops.release.canary",
        "a new release on a share of the traffic: its pods, KServe's patch, and the check that promotes or rolls back",
    ),
    "sign": ("mlops.release.sign", "sign the model files the service loads (in model.sig): key pair or Sigstore"),
    "verify": ("mlops.release.verify", "check the model files against their signature and the configured signer"),
    "promote": ("mlops.release.promote", "point a registry alias (default: champion) at the exported model's version"),
    "revert": ("mlops.release.revert", "put an earlier release back by version or digest, with a record of why"),
    "record": ("mlops.release.record", "record a publish, deploy or canary decision (MLflow tags, GitHub)"),
    "history": ("mlops.release.history", "which release served an environment from when to when"),
    "drift": ("mlops.monitoring.drift_command", "compare production data with the training data (exit 3 on drift)"),
    "feedback": ("mlops.monitoring.feedback", "join late labels to the logged predictions; report what cannot be used"),
    "retrain-data": (
        "mlops.monitoring.retrain_data",
        "build the next training data: the source plus labelled production rows, validated, tracked with DVC",
    ),
    "fetch-logs": (
        "mlops.monitoring.fetch_logs",
        f"copy the newest prediction logs from storage into {paths.PRODUCTION_DIR}/",
    ),
    "simulate": ("mlops.monitoring.simulate", "replay test rows against the service, or write a batch, with a shift"),
    "alert-rules": ("mlops.monitoring.alert_rules", "write the Prometheus rules holding the training class mix"),
    "expectations": (
        "mlops.validation.expectations",
        f"infer a starter expectation suite ({paths.GX_DIR}/) from the data",
    ),
    "rename": ("mlops.rename", "name the project: MLflow experiment, registered model, image, README title"),
}

# The stages that log to MLflow.
TRACKED_STAGES = ("train", "evaluate")

# Extra options of a stage: flag -> (help, argparse keywords). Passed to the stage's main() as keyword arguments.
STAGE_OPTIONS = {
    "validate": {
        "--data": (
            f"check this CSV or Parquet file instead (results in {paths.BATCH_VALIDATION_DIR}/)",
            {"metavar": "PATH"},
        )
    },
    "checks": {
        "--show": (
            f"print the primary metric, the decision and the checks of the last run ({paths.CHECKS}) again, "
            "checking nothing; exit 1 if one failed",
            {"action": "store_true"},
        )
    },
}

TELEMETRY_OFF = {"DVC_NO_ANALYTICS": "1", "MLFLOW_DISABLE_TELEMETRY": "true", "GX_ANALYTICS_ENABLED": "false"}


def run_stage(args: argparse.Namespace) -> int:
    from mlops import tracking
    from mlops.config import load_params

    options = {flag.lstrip("-"): getattr(args, flag.lstrip("-")) for flag in STAGE_OPTIONS.get(args.command, {})}
    try:
        if args.command in TRACKED_STAGES:
            tracking.check_reachable()  # before reading params imports scikit-learn: fails at once
        params = load_params(args.params)
        importlib.import_module(f"mlops.pipeline.{args.command}").main(params, **options)
    except BaseException:
        from mlops.pipeline.restore import restore_outputs

        restored = restore_outputs(args.command)
        if restored:
            names = ", ".join(str(path) for path in restored)
            print(f"mlops {args.command}: the last good outputs are back from DVC's cache: {names}", file=sys.stderr)
        raise
    return 0


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    """The parser for `argv`: every command, with the options of the tool argv names (only its module is imported)."""
    chosen = next((word for word in argv if not word.startswith("-")), None)
    parser = argparse.ArgumentParser(prog="mlops", description="Run the ML pipeline's stages and tools.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, help_text in STAGES.items():
        stage = commands.add_parser(name, help=help_text, description=help_text)
        stage.add_argument("--params", default=str(paths.PARAMS), help="parameters file (default: %(default)s)")
        for flag, (flag_help, keywords) in STAGE_OPTIONS.get(name, {}).items():
            stage.add_argument(flag, help=flag_help, **keywords)
        stage.set_defaults(handler=run_stage)
    for name, (module_name, help_text) in TOOLS.items():
        tool = commands.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            module = importlib.import_module(module_name)
            module.add_arguments(tool)
            tool.set_defaults(handler=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    for name, value in TELEMETRY_OFF.items():
        os.environ.setdefault(name, value)
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(argv).parse_args(argv)
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
