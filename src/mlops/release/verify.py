"""`mlops verify`: check the model files against their signature and whom the environment says to trust.

Exit 0 when models/model.sig signs exactly the files the service would load, signed by the key,
certificate chain or Sigstore identity named in MLOPS_MODEL_PUBLIC_KEY, MLOPS_MODEL_CERTIFICATE_CHAIN
or MLOPS_MODEL_SIGNER_IDENTITY (docs/serving.md); 1 with one line saying what is wrong otherwise.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mlops.errors import MlopsError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--models", type=Path, default=Path("models"), help="the export stage's output (default: %(default)s)"
    )


def run(args: argparse.Namespace) -> int:
    from mlops import signing

    model = verified(args.models)
    if model is None:
        names = ", ".join((signing.PUBLIC_KEY, signing.CERTIFICATE_CHAIN, signing.SIGNER_IDENTITY))
        raise MlopsError(f"nothing to verify against: set one of {names}")
    print(f"verify: {args.models} holds model {model.version}, signed as required")
    return 0


def verified(model_dir: Path):
    """The model files in `model_dir` (exported.ModelFiles), verified, when the environment asks; else None."""
    from mlops import exported, signing

    if signing.Trust.from_env() is None:
        return None
    try:
        model = exported.read_files(model_dir)
    except exported.StartupError as exc:
        raise MlopsError(str(exc)) from None
    signing.verify_if_required(model)
    return model
