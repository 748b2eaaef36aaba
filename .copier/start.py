"""copier's task (copier.yml), run in the new project after `copier copy` and `copier update`
with the interpreter running copier: name the project (`mlops rename`, from the project's own
src/, which needs only PyYAML, a dependency of copier) and write the data answers into
params.yaml (data.source, data.target, data.task), keeping its comments.

Running it again with the same answers changes nothing, so an update, which runs it on the
template's old and new versions and on the project, adds nothing of its own to the merge.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path


def set_data(params: Path, values: dict[str, str]) -> list[str]:
    """Set keys under `data:` in params.yaml as a person would edit them; return what changed."""
    text = params.read_text(encoding="utf-8")
    block = re.search(r"(?m)^data:[^\n]*\n(?:(?:[ \t][^\n]*)?\n)*", text)
    if block is None:
        sys.exit("copier task: no `data:` section in params.yaml")
    changed = []
    for key, value in values.items():
        line = re.compile(rf"(?m)^(  {key}:[ ]*)(\S+)([ ]*)(?=#|$)")
        found = line.search(text, block.start(), block.end())
        if found is None:
            sys.exit(f"copier task: no `{key}:` under data: in params.yaml; set data.{key}: {value} by hand")
        if found.group(2) != value:
            # the comment after the value keeps its column when the value leaves room
            spaces = " " * max(1, len(found.group(2)) + len(found.group(3)) - len(value)) if found.group(3) else ""
            text = text[: found.start(2)] + value + spaces + text[found.end(3) :]
            changed.append(f"data.{key}: {found.group(2)} -> {value}")
    params.write_text(text, encoding="utf-8")
    return changed


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", required=True)
    parser.add_argument("--task", required=True, choices=["classification", "regression"])
    parser.add_argument("--source", required=True)
    parser.add_argument("--target", required=True)
    args = parser.parse_args(argv)
    if any(char.isspace() for char in args.source + args.target):
        sys.exit("copier task: the data source and the target column are written into params.yaml: no spaces")

    sys.path.insert(0, str(Path.cwd() / "src"))
    from mlops.errors import MlopsError
    from mlops.rename import rename

    try:
        changed = rename(args.name)
    except MlopsError as error:
        sys.exit(f"copier task: {error}")
    changed += set_data(Path("params.yaml"), {"source": args.source, "target": args.target, "task": args.task})
    for line in changed:
        print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
