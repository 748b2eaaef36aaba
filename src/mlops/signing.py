"""Signed models: `mlops sign` signs what the service serves; the service, `mlops smoke` and deploy verify it.

The signature (models/model.sig, written by the OpenSSF model-signing library) covers
metadata.json and the model file of its runtime (model.onnx, or model.skops for
`serve.runtime: sklearn`): exactly the bytes the service loads. It is a Sigstore bundle, made
keyless with Sigstore in publish.yml on GitHub, or with a key pair or a certificate elsewhere.

Verification is required when the environment names what to trust, one of:
  MLOPS_MODEL_PUBLIC_KEY=key.pub                 an elliptic-curve public key (PEM)
  MLOPS_MODEL_CERTIFICATE_CHAIN=ca.pem[:more.pem] the certificates a signing certificate must chain to
  MLOPS_MODEL_SIGNER_IDENTITY=https://github.com/OWNER/REPO/.github/workflows/publish.yml@refs/heads/main
                                                 a Sigstore signer, with MLOPS_MODEL_SIGNER_ISSUER
                                                 (default: GitHub Actions' token issuer)
Unset, nothing is verified and the library is not even imported.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from mlops import exported
from mlops.errors import MlopsError

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
PUBLIC_KEY, CERTIFICATE_CHAIN = "MLOPS_MODEL_PUBLIC_KEY", "MLOPS_MODEL_CERTIFICATE_CHAIN"
SIGNER_IDENTITY, SIGNER_ISSUER = "MLOPS_MODEL_SIGNER_IDENTITY", "MLOPS_MODEL_SIGNER_ISSUER"


class SignatureError(MlopsError):
    """The model is unsigned, tampered with, or signed by someone else: one line saying which."""


@dataclass(frozen=True)
class Trust:
    """Whose signature a model must carry: a public key, a certificate chain, or a Sigstore identity."""

    public_key: Path | None = None
    certificate_chain: tuple[Path, ...] = ()
    identity: str | None = None
    issuer: str = GITHUB_ISSUER

    @property
    def description(self) -> str:
        if self.public_key:
            return f"the key {self.public_key}"
        if self.certificate_chain:
            return f"a certificate chaining to {', '.join(map(str, self.certificate_chain))}"
        return f"{self.identity} (issuer {self.issuer})"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Trust | None:
        """What the environment says to trust; None when it asks for no verification."""
        environ = os.environ if environ is None else environ
        key, chain, identity = (
            environ.get(name, "").strip() for name in (PUBLIC_KEY, CERTIFICATE_CHAIN, SIGNER_IDENTITY)
        )
        given = [
            name
            for name, value in ((PUBLIC_KEY, key), (CERTIFICATE_CHAIN, chain), (SIGNER_IDENTITY, identity))
            if value
        ]
        if len(given) > 1:
            raise SignatureError(f"set one of {', '.join(given)}, not {len(given)}: each names what to trust")
        if not given:
            return None
        if key or chain:
            paths = [Path(key)] if key else [Path(part) for part in chain.split(os.pathsep) if part]
            missing = [str(path) for path in paths if not path.is_file()]
            if missing:
                raise SignatureError(f"{given[0]}: {', '.join(missing)} not found")
            return cls(public_key=paths[0]) if key else cls(certificate_chain=tuple(paths))
        return cls(identity=identity, issuer=environ.get(SIGNER_ISSUER, "").strip() or GITHUB_ISSUER)


@contextlib.contextmanager
def laid_out(files: Mapping[str, bytes]) -> Iterator[Path]:
    """A private directory holding exactly `files`: what is signed or verified is these bytes, nothing else."""
    with tempfile.TemporaryDirectory(prefix="mlops-model-") as tmp:
        root = Path(tmp) / "model"
        root.mkdir()
        for name, data in files.items():
            (root / name).write_bytes(data)
        yield root


def verify(files: Mapping[str, bytes], signature: bytes | None, trust: Trust, where: str = "models") -> None:
    """SignatureError unless `signature` signs exactly `files` ({name: bytes}) and comes from `trust`."""
    if signature is None:
        raise SignatureError(
            f"{where}/model.sig not found: the model is not signed, and {trust.description} must sign it"
        )
    from model_signing import verifying  # a second or so of imports: only when verification is asked for

    config = verifying.Config()
    if trust.public_key:
        config.use_elliptic_key_verifier(public_key=trust.public_key)
    elif trust.certificate_chain:
        config.use_certificate_verifier(certificate_chain=trust.certificate_chain)
    else:
        config.use_sigstore_verifier(identity=trust.identity, oidc_issuer=trust.issuer)
    with laid_out(files) as root:
        bundle = root.parent / "model.sig"
        bundle.write_bytes(signature)
        try:
            config.verify(root, bundle)
        except Exception as exc:  # the library raises ValueError, cryptography's and sigstore's errors, JSON errors
            raise SignatureError(
                f"{where}: {', '.join(sorted(files))} not signed by {trust.description}: {brief(exc)}"
            ) from None


def brief(exc: BaseException) -> str:
    """The error on one line, short: the library's mismatch message lists every digest."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    if text.startswith("Signature mismatch"):
        changed = sorted(set(part.split("'")[1] for part in text.split("for ")[1:] if "'" in part))
        return f"signature mismatch for {', '.join(changed)}" if changed else "signature mismatch"
    return text if len(text) <= 200 else text[:197] + "..."


def verify_if_required(model, environ: Mapping[str, str] | None = None) -> None:
    """Verify a `exported.ModelFiles` when the environment names what to trust; nothing otherwise."""
    trust = Trust.from_env(environ)
    if trust is not None:
        verify(model.files, model.signature, trust, str(model.directory))


def sign(
    model_dir: Path,
    key: Path | None = None,
    certificate: Path | None = None,
    chain: tuple[Path, ...] = (),
    sigstore: bool = False,
) -> Path:
    """Sign the files the service would load from `model_dir` with a key (as `certificate` when given) or
    keyless with Sigstore; returns the signature's path."""
    from model_signing import signing

    from mlops.io import atomic_path

    try:
        model = exported.read_files(model_dir)
    except exported.StartupError as exc:
        raise MlopsError(str(exc)) from None
    destination = model_dir / exported.SIGNATURE_FILE
    try:
        config = signing.Config()
        if sigstore:
            config.use_sigstore_signer(use_ambient_credentials=True)  # GitHub Actions' OIDC token (id-token: write)
        elif certificate:
            config.use_certificate_signer(private_key=key, signing_certificate=certificate, certificate_chain=chain)
        else:
            config.use_elliptic_key_signer(private_key=key)
        with laid_out(model.files) as root, atomic_path(destination) as tmp:
            config.sign(root, tmp)
    except Exception as exc:  # a key that cannot be read, no OIDC token, Sigstore unreachable...
        raise MlopsError(f"signing failed, {destination} not written: {brief(exc)}") from None
    return destination
