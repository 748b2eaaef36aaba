"""dvc.yaml's Python deps are derived from the code, not remembered.

Each stage's `cmd` is `mlops <stage>`, which runs `mlops.pipeline.<stage>.main`. From that
module this test follows every `mlops.*` import, at module level and inside functions, read
with `ast` (nothing is imported), and checks that the stage's deps cover each file reached:
a dep is the file itself or a directory above it. It also checks the other way: every
`src/` dep covers a file the stage reaches, so dvc.yaml lists nothing from memory.

What counts is what can change a stage's outputs:
- the stage module and everything it reaches, shared core modules included: `config.py`
  (a default changes what a stage does), `io.py` (it writes the files), `schema.py`, `model.py`;
- not `cli.py`: it only parses arguments and calls the stage's `main(params)`; following it
  would make every stage depend on every tool it lists;
- not `errors.py`: an exception type can stop a stage, never change what it writes;
- not `paths.py`: its values come from `paths.yaml`, which dvc.yaml reads itself (`vars:`), so
  a changed path changes the stage's definition, and DVC reruns a stage whose definition changed;
- not a package's `__init__.py` that holds only its docstring;
- not the edges in CHECK_ONLY, each a function-level import that only checks a value.
"""

from __future__ import annotations

import ast
import copy
import functools
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO_ROOT

SRC = REPO_ROOT / "src"
NO_OUTPUT = {"mlops.cli", "mlops.errors", "mlops.paths"}
# importer -> imported: edges that cannot change what a stage writes, and why.
CHECK_ONLY = {
    # params.yaml's train.estimator must name one of model.ESTIMATORS: a wrong name stops the
    # command at start-up; model.py's code runs in the stages that import it themselves.
    ("mlops.config", "mlops.model"),
}


def module_file(name: str) -> Path | None:
    base = SRC.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


@functools.cache
def imports_of(name: str) -> frozenset[str]:
    """The `mlops.*` modules that module `name` imports anywhere in its source."""
    tree = ast.parse(module_file(name).read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
            # `from mlops import figures` imports the module mlops.figures
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    found = {module for module in found if module.split(".")[0] == "mlops" and module_file(module)}
    # importing mlops.a.b runs mlops/__init__.py and mlops/a/__init__.py first
    return frozenset(found).union(
        ".".join(module.split(".")[:end]) for module in found for end in range(1, module.count(".") + 1)
    )


def only_a_docstring(path: Path) -> bool:
    body = ast.parse(path.read_text(encoding="utf-8")).body
    return len(body) == 1 and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)


@functools.cache
def reached(stage: str) -> frozenset[str]:
    """The files under src/ that can change what `mlops <stage>` writes, relative to the root."""
    seen, todo = set(), [f"mlops.pipeline.{stage}"]
    while todo:
        name = todo.pop()
        if name in seen or name in NO_OUTPUT:
            continue
        seen.add(name)
        todo += [imported for imported in imports_of(name) if (name, imported) not in CHECK_ONLY]
    files = {module_file(name) for name in seen}
    return frozenset(str(path.relative_to(REPO_ROOT)) for path in files if not only_a_docstring(path))


def python_deps(stage_spec: dict) -> list[str]:
    return [dep for dep in stage_spec.get("deps", []) if dep.startswith("src/")]


def covers(dep: str, path: str) -> bool:
    dep = dep.rstrip("/")
    return path == dep or path.startswith(dep + "/")


def problems(dvc_yaml: dict) -> list[str]:
    """What dvc.yaml's stages get wrong about their Python deps, one line each."""
    found = []
    for stage, spec in dvc_yaml["stages"].items():
        if spec["cmd"] != f"mlops {stage}":
            found.append(f"{stage}: cmd is {spec['cmd']!r}, not 'mlops {stage}'")
            continue
        deps, needed = python_deps(spec), reached(stage)
        found += [f"{stage}: deps miss {path}" for path in sorted(needed) if not any(covers(d, path) for d in deps)]
        found += [
            f"{stage}: dep {dep} covers nothing it imports" for dep in deps if not any(covers(dep, p) for p in needed)
        ]
    return found


@pytest.fixture(scope="module")
def dvc_yaml() -> dict:
    return yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text(encoding="utf-8"))


def test_every_stage_lists_the_code_it_runs(dvc_yaml):
    assert problems(dvc_yaml) == []


def test_the_walk_follows_imports_inside_functions():
    assert "src/mlops/pipeline/train.py" in reached("crossval")  # crossval imports train's fit() in a function
    assert "src/mlops/figures.py" in reached("evaluate")  # so does evaluate with figures
    assert "src/mlops/schema.py" in reached("train")  # schema builds the model's input: train.py imports it
    assert "src/mlops/serving/__init__.py" not in reached("export")  # only a docstring


def test_removing_any_python_dep_is_reported(dvc_yaml):
    """Each src/ dep in dvc.yaml is needed: without it, the check names the stage and the file."""
    listed = [(stage, dep) for stage, spec in dvc_yaml["stages"].items() for dep in python_deps(spec)]
    assert len(listed) >= len(dvc_yaml["stages"])  # every stage has at least its own module
    for stage, dep in listed:
        changed = copy.deepcopy(dvc_yaml)
        changed["stages"][stage]["deps"].remove(dep)
        reported = problems(changed)
        assert reported, (stage, dep)
        assert all(line.startswith(f"{stage}: deps miss {dep.rstrip('/')}") for line in reported), reported


def test_a_dep_nothing_imports_is_reported(dvc_yaml):
    changed = copy.deepcopy(dvc_yaml)
    changed["stages"]["ingest"]["deps"].append("src/mlops/report/")
    assert problems(changed) == ["ingest: dep src/mlops/report/ covers nothing it imports"]


def test_the_cli_has_a_command_for_each_stage_in_dvc_yaml_order(dvc_yaml):
    from mlops.cli import STAGES

    assert list(STAGES) == list(dvc_yaml["stages"])
