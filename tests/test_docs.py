"""What the docs say matches the code: the layout, the stages, the model's metadata."""

from __future__ import annotations

import ast
import re

import yaml

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


def test_readme_names_the_pipeline_modules_the_dvc_stages_and_the_rest():
    readme = (REPO_ROOT / "README.md").read_text()
    lines = readme.splitlines()
    at = next(index for index, line in enumerate(lines) if line.strip().startswith("pipeline/"))
    line, continued = lines[at], lines[at + 1]  # the map's entry for pipeline/ takes two lines
    listed = line.split("one module each:")[1].rstrip(";").replace(",", " ").split()
    stages = list(yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text())["stages"])
    assert listed == stages
    others = {path.stem for path in (PACKAGE / "pipeline").glob("*.py") if not path.name.startswith("_")} - set(stages)
    assert others and all(f"{name}.py" in continued for name in others)


def metadata_keys() -> set[str]:
    """The keys of the dict export.build_metadata returns, read from its source."""
    tree = ast.parse((PACKAGE / "pipeline/export.py").read_text())
    function = next(node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == "build_metadata")
    (returned,) = [node.value for node in ast.walk(function) if isinstance(node, ast.Return)]
    return {key.value for key in returned.keys}


def test_docs_serving_lists_every_key_of_metadata_json():
    text = (REPO_ROOT / "docs/serving.md").read_text()
    paragraph = text[text.index("`metadata.json` holds:") :].split("\n\n")[0]
    named = set(re.findall(r"`(\w+)`", paragraph))
    assert named == metadata_keys()


def test_every_test_a_doc_names_exists():
    """A doc that says which test proves a claim names a file and function that are there."""
    named = []
    for doc in [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]:
        for path, function in re.findall(r"`(tests/[\w/.-]+\.py)(?:::(\w+))?`", doc.read_text()):
            named.append((doc.name, path, function))
    assert len(named) > 20  # the pattern still finds the references
    # A project made with copier leaves the template's own proofs out (copier.yml's _exclude),
    # while the docs it keeps still name them: there, only the tests it has are checked.
    generated = (REPO_ROOT / ".copier-answers.yml").is_file()
    missing = []
    for doc, path, function in named:
        file = REPO_ROOT / path
        if not file.is_file():
            if not generated:
                missing.append(f"{doc}: {path}")
        elif function and not re.search(rf"^def {function}\(", file.read_text(), flags=re.MULTILINE):
            missing.append(f"{doc}: {path}::{function}")
    assert not missing
