"""The template's own proofs stay the template's: the whole suite runs on a schedule only where
a repository opts in (the template's does), and a generated project leaves out the tests of the
template's plumbing (copier.yml's _exclude)."""

from __future__ import annotations

import re

import yaml

from tests.conftest import REPO_ROOT


def test_full_tests_run_on_push_and_nightly_only_where_the_repository_opts_in():
    workflow = yaml.safe_load((REPO_ROOT / ".github/workflows/full-tests.yml").read_text())
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as True
    assert {"push", "schedule", "workflow_dispatch"} <= set(triggers)
    (job,) = workflow["jobs"].values()
    assert job["if"] == "github.event_name == 'workflow_dispatch' || vars.FULL_TESTS == 'true'"
    assert "`FULL_TESTS`" in (REPO_ROOT / "docs/workflows.md").read_text()


def excluded_paths() -> list[str]:
    config = yaml.safe_load((REPO_ROOT / "copier.yml").read_text())
    return [pattern for pattern in config["_exclude"] if pattern.startswith("tests/")]


def test_every_excluded_test_path_exists_and_no_kept_test_imports_one():
    """A renamed folder would silently reach projects; a kept test importing an excluded one
    would break every generated project's suite."""
    excluded = {path for pattern in excluded_paths() for path in REPO_ROOT.glob(pattern)}
    missing = [pattern for pattern in excluded_paths() if not list(REPO_ROOT.glob(pattern))]
    assert not missing, f"copier.yml excludes paths that are not there: {missing}"
    excluded_files = {file for path in excluded for file in ([path] if path.is_file() else path.rglob("*.py"))}
    modules = {".".join(file.relative_to(REPO_ROOT).with_suffix("").parts) for file in excluded_files}
    modules |= {module.removesuffix(".__init__") for module in modules}
    for test in (REPO_ROOT / "tests").rglob("*.py"):
        if test in excluded_files:
            continue
        imports = re.findall(r"(?m)^\s*(?:from|import) (tests(?:\.\w+)+)", test.read_text())
        wrong = [name for name in imports if name in modules]
        assert not wrong, f"{test.relative_to(REPO_ROOT)} imports {wrong}, which copier.yml leaves out of projects"
