"""What the docs say about the layout matches the tree."""

from __future__ import annotations

import re

from tests.conftest import REPO_ROOT

PACKAGE = REPO_ROOT / "src/mlops"


def test_readme_maps_every_module_and_folder_of_the_package():
    readme = (REPO_ROOT / "README.md").read_text()
    block = readme[readme.index("```\nsrc/mlops/\n") :].split("```")[1]
    named = {re.sub(r"(\.py|\.yaml|/)$", "", word) for word in re.findall(r"(?:^|\s{2,})(\S+(?:\.py|\.yaml|/))", block)}
    named.discard("src/mlops")
    present = {
        path.stem for path in PACKAGE.iterdir() if not path.name.startswith(("_", ".")) and "egg" not in path.name
    }
    assert named == present


def test_docs_workflows_counts_and_lists_every_workflow():
    text = (REPO_ROOT / "docs/workflows.md").read_text()
    files = sorted(path.name for path in (REPO_ROOT / ".github/workflows").glob("*.yml"))
    words = {3: "Three", 4: "Four", 5: "Five", 6: "Six", 7: "Seven"}
    assert f"{words[len(files)]} workflows in `.github/workflows/`" in text
    assert sorted(re.findall(r"^\| `(\S+\.yml)` \|", text, flags=re.MULTILINE)) == files
