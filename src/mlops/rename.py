"""`mlops rename NAME`: give the project its own name instead of the template's.

It renames the identifiers the template ships with, wherever they are written:
- the MLflow experiment (`mlflow.experiment` in params.yaml): NAME;
- the registered model (`mlflow.registered_model`): NAME-model;
- the serving image (`IMAGE` in the Makefile, the Dockerfile's title label, the docs, the image
  that deploy/vertex, deploy/sagemaker and deploy/azureml run): NAME-serving;
- the monitoring stack's service image (deploy/compose.yaml): NAME-service;
- the project (`name` in pyproject.toml): NAME, and wherever deploy/ and the Kubeflow pipeline
  name the project: SageMaker's model, endpoint configuration and batch job (NAME-batch),
  Vertex AI's model, Azure ML's endpoint, the Kubernetes `part-of` label, the pipeline's name
  (pipelines/pipeline.py and the compiled pipelines/pipeline.yaml);
- README's title: NAME.
Comments and everything else in those files stay as they are, and so do other names: the
Python package's (`mlops`, what the code imports) and the template's own test images. dvc.lock
keeps the names the last run used until the next `make run`. Running it again with the same name
changes nothing.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from pathlib import Path

from mlops import paths
from mlops.errors import MlopsError

NAME_PATTERN = re.compile(r"[a-z0-9]+(?:[._-][a-z0-9]+)*")  # valid as an image name, an MLflow name, a title


@dataclass(frozen=True)
class Identifier:
    """One identifier: where its current value is declared (a regex whose group 2 is the value),
    the files that repeat that value, and its new value for a project name."""

    what: str
    declared_in: Path
    declaration: str
    used_in: tuple[Path, ...]
    new_value: str  # str.format with {name}
    suffixes: tuple[str, ...] = ()  # names made of the value and one of these, renamed with it (-batch)

    def whole(self, old: str) -> re.Pattern:
        """`old` as a whole identifier (not followed or preceded by more of a name), or with a suffix."""
        suffix = "|".join(map(re.escape, self.suffixes))
        return re.compile(rf"(?<![\w.-]){re.escape(old)}(?=(?:{suffix})?(?![\w-]))")


IDENTIFIERS = (
    Identifier("MLflow experiment", paths.PARAMS, r"^(\s*experiment:\s*)(\S+)", (), "{name}"),
    Identifier("registered model", paths.PARAMS, r"^(\s*registered_model:\s*)(\S+)", (), "{name}-model"),
    Identifier(
        "serving image",
        Path("Makefile"),
        r"^(IMAGE \?= )(\S+)",
        (
            Path("Makefile"),
            Path("Dockerfile"),
            Path("README.md"),
            Path("docs/container.md"),
            # where the managed platforms pull it from (their registries' paths are placeholders)
            Path("deploy/vertex/model.json"),
            Path("deploy/sagemaker/model.json"),
            Path("deploy/azureml/environment.yml"),
        ),
        "{name}-serving",
    ),
    Identifier(
        "monitoring service image",
        Path("deploy/compose.yaml"),
        r"^(\s*image:\s*)([^\s:]+)(?=:local\b)",
        (Path("deploy/compose.yaml"),),  # the log-dir step runs the same image
        "{name}-service",
    ),
    Identifier(
        "project",
        Path("pyproject.toml"),
        r'^(name = ")([^"]+)',
        (
            Path("deploy/sagemaker/model.json"),
            Path("deploy/sagemaker/endpoint-config.json"),
            Path("deploy/sagemaker/transform-job.json"),
            Path("deploy/vertex/model.json"),
            Path("deploy/azureml/endpoint.yml"),
            Path("deploy/azureml/deployment.yml"),
            Path("deploy/k8s/base/kustomization.yaml"),
            Path("pipelines/pipeline.py"),
            Path("pipelines/pipeline.yaml"),
            Path("docs/deploy.md"),
        ),
        "{name}",
        suffixes=("-batch",),
    ),
    Identifier("README title", Path("README.md"), r"\A(# )(.+)", (), "{name}"),
)


def rename(name: str, root: Path | str = ".") -> list[str]:
    """Rename every identifier under `root` for the project `name`; return what changed."""
    if not NAME_PATTERN.fullmatch(name):
        raise MlopsError(
            f"'{name}' cannot name a project: use lowercase letters, digits and '-', '_' or '.' between them "
            "(e.g. churn-model)"
        )
    root = Path(root)
    changed = []
    for identifier in IDENTIFIERS:
        declared_in = root / identifier.declared_in
        if not declared_in.is_file():
            raise MlopsError(f"{identifier.declared_in} not found: run `mlops rename` from the repository root")
        text = declared_in.read_text(encoding="utf-8")
        pattern = re.compile(identifier.declaration, re.MULTILINE)
        found = pattern.search(text)
        if found is None:
            raise MlopsError(
                f"cannot find the {identifier.what} in {identifier.declared_in} "
                f"(a line matching {identifier.declaration!r}); set it there by hand"
            )
        old, new = found.group(2), identifier.new_value.format(name=name)
        if old == new:
            continue
        declared_in.write_text(text[: found.start(2)] + new + text[found.end(2) :], encoding="utf-8")
        whole = identifier.whole(old)
        for path in (root / used for used in identifier.used_in):
            if path.is_file():
                path.write_text(whole.sub(new, path.read_text(encoding="utf-8")), encoding="utf-8")
        changed.append(f"{identifier.what}: {old} -> {new}")
    return changed


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="the project's name: lowercase letters, digits and '-' (e.g. churn-model)")


def run(args: argparse.Namespace) -> int:
    changed = rename(args.name)
    if not changed:
        print(f"rename: the project is already named {args.name}; nothing changed")
        return 0
    print(f"rename: {args.name}\n  " + "\n  ".join(changed))
    print("Review `git diff` and commit it; the next `make run` tracks under the new experiment and model names.")
    return 0
