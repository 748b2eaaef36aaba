"""Check a KServe manifest against the `kserve` package's generated models.

Run with the interpreter of the KServe virtualenv (tests/deploy/test_kserve.py sets it up):
    python kserve_check.py inferenceservice.yaml
Every object is built with its model class (V1beta1InferenceService, and the Kubernetes
client's V1Container etc. inside it), each field typed as the model declares; a field the
model does not know is an error. Prints one problem a line; exit status 1 when any.
"""

from __future__ import annotations

import re
import sys

import kserve.models
import kubernetes.client.models
import yaml

PRIMITIVES = {"str": str, "int": int, "float": (int, float), "bool": bool, "object": object, "datetime": str}


def model_class(name: str):
    for module in (kserve.models, kubernetes.client.models):
        if hasattr(module, name):
            return getattr(module, name)
    raise LookupError(f"no model named {name}")


def build(value, type_name: str, path: str, problems: list[str]):
    if value is None:
        return None
    if match := re.fullmatch(r"[lL]ist\[(.+)\]", type_name):
        if not isinstance(value, list):
            problems.append(f"{path}: expected a list, got {value!r}")
            return None
        return [build(item, match[1], f"{path}[{i}]", problems) for i, item in enumerate(value)]
    if match := re.fullmatch(r"dict\((\w+), (.+)\)|Dict\[(\w+), (.+)\]", type_name):
        if not isinstance(value, dict):
            problems.append(f"{path}: expected a mapping, got {value!r}")
            return None
        item_type = match[2] or match[4]
        return {key: build(item, item_type, f"{path}.{key}", problems) for key, item in value.items()}
    if type_name in PRIMITIVES:
        expected = PRIMITIVES[type_name]
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            problems.append(f"{path}: expected {type_name}, got {value!r}")
        return value
    cls = model_class(type_name)
    if not isinstance(value, dict):
        problems.append(f"{path}: expected a {type_name} mapping, got {value!r}")
        return None
    by_key = {key: attribute for attribute, key in cls.attribute_map.items()}
    kwargs = {}
    for key, item in value.items():
        if key not in by_key:
            problems.append(f"{path}.{key}: {type_name} has no field {key!r}")
            continue
        attribute = by_key[key]
        kwargs[attribute] = build(item, cls.openapi_types[attribute], f"{path}.{key}", problems)
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as error:  # the model's own checks: required fields, enums
        problems.append(f"{path}: {type_name}: {error}")
        return None


def main(path: str) -> int:
    problems: list[str] = []
    with open(path) as stream:
        for document in yaml.safe_load_all(stream):
            if document and document.get("kind") == "InferenceService":
                build(document, "V1beta1InferenceService", document["metadata"]["name"], problems)
            elif document:
                problems.append(f"{path}: unexpected kind {document.get('kind')}")
    print("\n".join(problems))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
