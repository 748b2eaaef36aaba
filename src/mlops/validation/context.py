"""The Great Expectations file data context under gx/: its settings, the suite and the checkpoint.

gx/great_expectations.yml is written by Great Expectations itself (its defaults) with
SETTINGS applied on top: Data Docs go next to the validation results, progress bars and
analytics are off. A context opened here always has them, so a new gx/ matches the
committed one.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from mlops import paths

CHECKPOINT = "raw_dataset"  # the checkpoint and its validation definition
DATA_SOURCE, ASSET, BATCH = "pandas", "raw_dataset", "whole_dataframe"
RESULTS_DIR = Path("uncommitted/validations")  # inside gx/: the stored results, a build artifact

SETTINGS: dict[str, Any] = {
    "analytics_enabled": False,
    "progress_bars": {"globally": False, "metric_calculations": False},
    "data_docs_sites": {
        "local_site": {
            "class_name": "SiteBuilder",
            "show_how_to_buttons": False,
            "store_backend": {
                "class_name": "TupleFilesystemStoreBackend",
                # Relative to gx/, where the context lives.
                "base_directory": f"../{paths.DATA_DOCS_DIR.as_posix()}/",
            },
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        }
    },
}


def open_context(root: Path | str = "."):
    """The file data context under root/gx (created if missing), with SETTINGS and plain-JSON result storage."""
    import great_expectations as gx

    from mlops.validation.results_store import store_plain_json

    context = gx.get_context(mode="file", project_root_dir=str(root))
    apply_settings(context)
    store_plain_json(context)
    return context


def apply_settings(context) -> None:
    """Give the context SETTINGS, saving its config file only when something differs."""
    from great_expectations.data_context.types.base import ProgressBarsConfig

    variables = context.variables
    bars = variables.progress_bars  # a dict as read from the file, a ProgressBarsConfig once set
    current = {
        "analytics_enabled": variables.analytics_enabled,
        "progress_bars": bars.to_json_dict() if isinstance(bars, ProgressBarsConfig) else bars,
        "data_docs_sites": variables.data_docs_sites,
    }
    if current == SETTINGS:
        return
    variables.analytics_enabled = SETTINGS["analytics_enabled"]
    variables.progress_bars = ProgressBarsConfig(**SETTINGS["progress_bars"])
    variables.data_docs_sites = SETTINGS["data_docs_sites"]
    variables.save()


def clear_results(root: Path | str = ".") -> None:
    """Remove stored results and Data Docs: they show the latest run only, a build artifact, not a history."""
    shutil.rmtree(Path(root) / paths.DATA_DOCS_DIR, ignore_errors=True)
    shutil.rmtree(Path(root) / paths.GX_DIR / RESULTS_DIR, ignore_errors=True)


def save_suite(configs: list[dict[str, Any]], notes: str, root: Path | str = ".") -> Path:
    """Write the suite, and the data source and checkpoint that run it, into the context under root/gx."""
    import great_expectations as gx
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    context = open_context(root)
    suite = gx.ExpectationSuite(name=paths.SUITE_NAME, notes=notes)
    for config in configs:
        suite.add_expectation(ExpectationConfiguration(**config).to_domain_obj())
    if paths.SUITE_NAME in {existing.name for existing in context.suites.all()}:
        context.suites.delete(paths.SUITE_NAME)
    suite = context.suites.add(suite)
    add_checkpoint(context, suite)
    return Path(root) / paths.SUITE


def add_checkpoint(context, suite) -> None:
    """One pandas data source with a whole-dataframe batch, validated by one checkpoint (replaced if present)."""
    import great_expectations as gx

    if DATA_SOURCE not in {source.name for source in context.data_sources.all().values()}:
        context.data_sources.add_pandas(DATA_SOURCE).add_dataframe_asset(ASSET).add_batch_definition_whole_dataframe(
            BATCH
        )
    batch = context.data_sources.get(DATA_SOURCE).get_asset(ASSET).get_batch_definition(BATCH)
    if CHECKPOINT in {checkpoint.name for checkpoint in context.checkpoints.all()}:
        context.checkpoints.delete(CHECKPOINT)
    if CHECKPOINT in {definition.name for definition in context.validation_definitions.all()}:
        context.validation_definitions.delete(CHECKPOINT)
    definition = context.validation_definitions.add(gx.ValidationDefinition(name=CHECKPOINT, data=batch, suite=suite))
    # No actions: the validate stage builds Data Docs itself after the run, so tests run
    # this same checkpoint without paying for a Data Docs build each time.
    context.checkpoints.add(
        gx.Checkpoint(name=CHECKPOINT, validation_definitions=[definition], actions=[], result_format="SUMMARY")
    )
