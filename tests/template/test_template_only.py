"""The template's own proofs stay the template's: the whole suite runs on a schedule only where
a repository opts in (the template's does), and a generated project leaves out the tests of the
template's plumbing (copier.yml's _exclude)."""

from __future__ import annotations

import yaml

from tests.conftest import REPO_ROOT


def test_full_tests_run_on_push_and_nightly_only_where_the_repository_opts_in():
    workflow = yaml.safe_load((REPO_ROOT / ".github/workflows/full-tests.yml").read_text())
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as True
    assert {"push", "schedule", "workflow_dispatch"} <= set(triggers)
    (job,) = workflow["jobs"].values()
    assert job["if"] == "github.event_name == 'workflow_dispatch' || vars.FULL_TESTS == 'true'"
    assert "`FULL_TESTS`" in (REPO_ROOT / "docs/workflows.md").read_text()
