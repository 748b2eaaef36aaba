"""`mlops sign`: sign the model files the service loads (models/model.sig), with a key, a certificate or Sigstore.

Keyless Sigstore signing (`--sigstore`) needs an OIDC identity: publish.yml's job on GitHub
has one (`id-token: write`). Elsewhere sign with a key pair, or a key and its certificate.
What the signature covers and how it is verified: mlops/signing.py and docs/serving.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mlops.errors import MlopsError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--models", type=Path, default=Path("models"), help="the export stage's output (default: %(default)s)"
    )
    how = parser.add_mutually_exclusive_group(required=True)
    how.add_argument("--key", type=Path, metavar="PRIVATE_KEY", help="an elliptic-curve private key (PEM)")
    how.add_argument("--sigstore", action="store_true", help="keyless, with the CI's OIDC identity (GitHub Actions)")
    parser.add_argument("--certificate", type=Path, help="with --key: sign as this certificate (PEM)")
    parser.add_argument(
        "--chain", type=Path, nargs="+", default=[], help="with --certificate: its issuers up to the root"
    )


def run(args: argparse.Namespace) -> int:
    from mlops import signing

    if (args.certificate or args.chain) and not args.key:
        raise MlopsError("--certificate and --chain go with --key, the certificate's private key")
    destination = signing.sign(args.models, args.key, args.certificate, tuple(args.chain), args.sigstore)
    print(f"sign: {destination} signs the model files in {args.models}")
    return 0
