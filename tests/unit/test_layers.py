"""The packages of src/mlops/ in layers: each imports only the layers below it, at module level or
inside a function (the imports pylint's cycle check cannot see), so no two packages import each other."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

PACKAGE = REPO_ROOT / "src" / "mlops"

# What each part may import besides itself, lowest first. "core" is every module directly in
# src/mlops/ (paths, config, metrics, dataset, schema, model, io, ...): the facts and tools the others share.
# The serving side imports the prediction log from monitoring, so monitoring sits below serving.
ALLOWED = {
    "core": set(),
    "validation": {"core"},
    "monitoring": {"core", "validation"},
    "serving": {"core", "monitoring"},
    "pipeline": {"core", "validation", "serving"},
    "report": {"core", "serving"},
    "release": {"core"},  # verify and sign read the model files through mlops.exported, as the service does
}
# Known crossings, each to be removed, not added to (none left).
KNOWN: set[str] = set()
ENTRY = {"cli", "__main__"}  # the `mlops` command: it runs the stages and tools of every part


def part(module: str) -> str:
    """mlops.pipeline.train -> pipeline; mlops.config, mlops -> core."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and (PACKAGE / parts[1]).is_dir() else "core"


def imports(path: Path) -> set[str]:
    """Every mlops module `path` imports, wherever the import statement is."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name == "mlops" or name.startswith("mlops.")}


def crossings(package: Path, allowed: dict[str, set[str]]) -> list[str]:
    """Each import from one part of `package` into a part it may not import."""
    wrong = []
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package.parent).with_suffix("")
        module = ".".join(relative.parts).removesuffix(".__init__")
        if relative.parts[1] in ENTRY:
            continue
        source = part(module)
        for name in sorted(imports(path)):
            target = part(name)
            if target != source and target not in allowed[source]:
                wrong.append(f"{module} imports {name} ({source} may import {sorted(allowed[source]) or 'no part'})")
    return wrong


def test_every_package_imports_only_the_layers_below_it():
    found = {item.split(" (")[0] for item in crossings(PACKAGE, ALLOWED)}
    assert found - KNOWN == set()
    assert found >= KNOWN, f"no longer crossing, take out of KNOWN: {sorted(KNOWN - found)}"


def test_no_two_parts_may_import_each_other():
    for source, targets in ALLOWED.items():
        for target in targets:
            assert source not in ALLOWED[target], f"{source} and {target} may import each other"


@pytest.mark.parametrize(
    ("module", "line", "expected"),
    [
        (
            "report/judge.py",
            "from mlops.pipeline.evaluate import per_class",
            "mlops.report.judge imports mlops.pipeline",
        ),
        ("metrics.py", "from mlops.report import statistics", "mlops.metrics imports mlops.report"),
        (
            "pipeline/train.py",
            "    from mlops.monitoring import drift",
            "mlops.pipeline.train imports mlops.monitoring",
        ),
    ],
)
def test_an_import_against_the_layers_is_reported(tmp_path, module, line, expected):
    import shutil

    copy = tmp_path / "mlops"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    target = copy / module
    body = target.read_text(encoding="utf-8")
    if line.startswith(" "):  # inside the first function
        head, _, rest = body.partition("\ndef ")
        name, _, after = rest.partition(":\n")
        body = f"{head}\ndef {name}:\n{line}\n{after}"
    else:
        body = body.replace("from __future__ import annotations\n", f"from __future__ import annotations\n{line}\n", 1)
    target.write_text(body, encoding="utf-8")
    found = crossings(copy, ALLOWED)
    assert [item for item in found if item.startswith(expected)], found
