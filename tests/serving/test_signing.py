"""Signed models: `mlops sign` and `mlops verify` with a key pair and with a certificate chain.

Keyless Sigstore signing needs an OIDC identity and Sigstore's servers, which only GitHub
Actions has (publish.yml); here the same bundles are made with keys the tests generate. Each
way to tamper must be refused with one line.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import subprocess
import sys

import pytest

from mlops import http
from mlops.cli import main

SIGNED = ("metadata.json", "model.onnx")


def write_key(path, key=None):
    """A new P-256 private key at `path` (PEM), its public key beside it as `path.pub`; returns the key."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = key or ec.generate_private_key(ec.SECP256R1())
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    path.with_suffix(".pub").write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return key


def write_certificate(path, subject_key, issuer_key=None, issuer_name=None, authority=False, name="model signer"):
    """A certificate for `subject_key` at `path`, self-signed unless an issuer is given; returns its name."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    usage = dict.fromkeys(
        ("content_commitment", "key_encipherment", "data_encipherment", "key_agreement", "crl_sign"), False
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name or subject)
        .public_key(subject_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=authority, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, key_cert_sign=authority, encipher_only=False, decipher_only=False, **usage
            ),
            critical=True,
        )
    )
    if not authority:
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
    certificate = builder.sign(issuer_key or subject_key, hashes.SHA256())
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return subject


@pytest.fixture
def signed(model_dir, tmp_path):
    """A copy of the session's model, signed with a new key (tmp_path/key.pem, key.pub)."""
    models = tmp_path / "models"
    shutil.copytree(model_dir, models)
    write_key(tmp_path / "key.pem")
    assert main(["sign", "--models", str(models), "--key", str(tmp_path / "key.pem")]) == 0
    return models


def verify(models, capsys, monkeypatch, **env) -> tuple[int, list[str]]:
    for name, value in env.items():
        monkeypatch.setenv(name, str(value))
    status = main(["verify", "--models", str(models)])
    return status, capsys.readouterr().err.splitlines()


def assert_refused(result, *words):
    status, lines = result
    assert status == 1 and len(lines) == 1, lines
    assert lines[0].startswith("mlops verify: error: ") and all(word in lines[0] for word in words), lines[0]


def test_a_signed_model_verifies_and_each_changed_byte_is_refused(signed, tmp_path, capsys, monkeypatch):
    key = {"MLOPS_MODEL_PUBLIC_KEY": tmp_path / "key.pub"}
    assert verify(signed, capsys, monkeypatch, **key) == (0, [])
    for name in SIGNED:
        original = (signed / name).read_bytes()
        flipped = bytearray(original)
        # metadata.json stays JSON: its version "7" becomes "6"; model.onnx gets one bit flipped mid-way
        at = original.index(b'"version": "7"') + 12 if name == "metadata.json" else len(original) // 2
        flipped[at] ^= 0x01
        (signed / name).write_bytes(bytes(flipped))
        assert_refused(verify(signed, capsys, monkeypatch, **key), "signature mismatch for", name)
        (signed / name).write_bytes(original)
    assert verify(signed, capsys, monkeypatch, **key)[0] == 0  # restored: the refusals were the flips


def test_a_swapped_metadata_a_missing_signature_and_another_key_are_refused(
    signed, numeric_model_dir, tmp_path, capsys, monkeypatch
):
    key = {"MLOPS_MODEL_PUBLIC_KEY": tmp_path / "key.pub"}
    other = tmp_path / "other"
    shutil.copytree(signed, other)
    shutil.copy(numeric_model_dir / "metadata.json", other / "metadata.json")  # another model's metadata
    assert_refused(verify(other, capsys, monkeypatch, **key), "signature mismatch for metadata.json")
    (other / "model.sig").unlink()
    assert_refused(verify(other, capsys, monkeypatch, **key), "model.sig not found", "not signed")
    write_key(tmp_path / "stranger.pem")
    assert_refused(
        verify(signed, capsys, monkeypatch, MLOPS_MODEL_PUBLIC_KEY=tmp_path / "stranger.pub"), "not signed by"
    )
    signature = bytearray((signed / "model.sig").read_bytes())
    signature[len(signature) // 2] ^= 0x01
    (signed / "model.sig").write_bytes(bytes(signature))
    assert_refused(verify(signed, capsys, monkeypatch, **key), "not signed by")


def test_a_model_signed_by_a_certificate_verifies_against_its_chain_only(model_dir, tmp_path, capsys, monkeypatch):
    models = tmp_path / "models"
    shutil.copytree(model_dir, models)
    authority_key = write_key(tmp_path / "ca.pem")
    authority = write_certificate(tmp_path / "ca.crt", authority_key, authority=True, name="test root")
    signer_key = write_key(tmp_path / "signer.pem")
    write_certificate(tmp_path / "signer.crt", signer_key, authority_key, authority)
    command = ["sign", "--models", str(models), "--key", str(tmp_path / "signer.pem")]
    assert main([*command, "--certificate", str(tmp_path / "signer.crt"), "--chain", str(tmp_path / "ca.crt")]) == 0
    assert verify(models, capsys, monkeypatch, MLOPS_MODEL_CERTIFICATE_CHAIN=tmp_path / "ca.crt") == (0, [])
    stranger_key = write_key(tmp_path / "stranger-ca.pem")
    write_certificate(tmp_path / "stranger-ca.crt", stranger_key, authority=True, name="another root")
    chain = {"MLOPS_MODEL_CERTIFICATE_CHAIN": tmp_path / "stranger-ca.crt"}
    assert_refused(verify(models, capsys, monkeypatch, **chain), "not signed by a certificate chaining to")


def test_a_skops_served_model_is_signed_with_its_skops_file(tmp_path, capsys, monkeypatch):
    from tests.serving.conftest import build_project

    build_project(tmp_path, runtime="sklearn")
    models = tmp_path / "models"
    (models / "model.onnx").unlink(missing_ok=True)  # not what this model serves: not needed, not signed
    write_key(tmp_path / "key.pem")
    assert main(["sign", "--models", str(models), "--key", str(tmp_path / "key.pem")]) == 0
    key = {"MLOPS_MODEL_PUBLIC_KEY": tmp_path / "key.pub"}
    assert verify(models, capsys, monkeypatch, **key) == (0, [])
    with open(models / "model.skops", "ab") as skops:
        skops.write(b"\0")
    assert_refused(verify(models, capsys, monkeypatch, **key), "signature mismatch for model.skops")


def test_verification_settings_are_checked(signed, tmp_path, capsys, monkeypatch):
    assert_refused(verify(signed, capsys, monkeypatch), "nothing to verify against")
    both = {"MLOPS_MODEL_PUBLIC_KEY": tmp_path / "key.pub", "MLOPS_MODEL_SIGNER_IDENTITY": "someone"}
    assert_refused(verify(signed, capsys, monkeypatch, **both), "set one of")
    monkeypatch.delenv("MLOPS_MODEL_SIGNER_IDENTITY")
    assert_refused(verify(signed, capsys, monkeypatch, MLOPS_MODEL_PUBLIC_KEY=tmp_path / "nope.pub"), "not found")


def test_sign_refuses_what_it_cannot_sign(tmp_path, capsys):
    write_key(tmp_path / "key.pem")
    assert main(["sign", "--models", str(tmp_path / "nothing"), "--key", str(tmp_path / "key.pem")]) == 1
    assert "metadata.json not found" in capsys.readouterr().err
    assert not (tmp_path / "nothing" / "model.sig").exists()


def test_sign_with_a_key_it_cannot_read_writes_nothing(model_dir, tmp_path, capsys):
    models = tmp_path / "models"
    shutil.copytree(model_dir, models)
    (tmp_path / "bad.pem").write_text("not a key\n")
    assert main(["sign", "--models", str(models), "--key", str(tmp_path / "bad.pem")]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and "signing failed" in lines[0] and "not written" in lines[0], lines
    assert sorted(path.name for path in models.iterdir()) == sorted(path.name for path in model_dir.iterdir())


def test_without_a_signer_configured_the_signing_library_is_not_imported(model_dir):
    code = (
        "import sys; from mlops.serving import startup; startup.prepare(sys.argv[1]); "
        "print('model_signing' in sys.modules)"
    )
    env = {name: value for name, value in os.environ.items() if not name.startswith("MLOPS_MODEL_")}
    result = subprocess.run(
        [sys.executable, "-c", code, str(model_dir)], capture_output=True, text=True, check=True, env=env
    )
    assert result.stdout.strip() == "False"


@pytest.mark.slow
def test_the_service_refuses_to_start_on_a_tampered_or_unsigned_model(signed, serve, tmp_path):
    key = {"MLOPS_MODEL_PUBLIC_KEY": str(tmp_path / "key.pub")}
    server = serve(signed, **key)  # signed: starts and serves
    assert http.request(server.url + "/ready").json()["model_version"] == "7"
    server.stop()
    metadata = json.loads((signed / "metadata.json").read_text())
    (signed / "metadata.json").write_text(json.dumps({**metadata, "version": "8"}))
    for case in ("tampered", "unsigned"):
        if case == "unsigned":
            (signed / "metadata.json").write_text(json.dumps(metadata))
            (signed / "model.sig").unlink()
        server = serve(signed, ready=False, **key)
        assert server.process.wait(60) == 1
        stderr = server.stderr.read_text()
        errors = [line for line in stderr.splitlines() if line.startswith("mlops serve: error:")]
        expected = "signature mismatch for metadata.json" if case == "tampered" else "model.sig not found"
        assert len(errors) == 1 and expected in errors[0], stderr
        assert "Traceback" not in stderr and "Booting worker" not in stderr


@pytest.mark.slow
def test_smoke_verifies_the_model_files_and_that_the_service_serves_them(
    signed, serve, project, numeric_model_dir, expected, tmp_path, capsys, monkeypatch
):
    import pandas as pd

    predictions = tmp_path / "predictions.csv"
    pd.DataFrame({"predicted": expected[0]}).to_csv(predictions, index=False)
    server = serve(signed)
    other = serve(numeric_model_dir)  # answers, but with another model than the signed one
    monkeypatch.setenv("MLOPS_MODEL_PUBLIC_KEY", str(tmp_path / "key.pub"))  # for smoke: the services run without
    prepared = project / "data/prepared"
    files = ["--test", prepared / "test.parquet", "--schema", prepared / "schema.json", "--expected", predictions]

    def smoke(url, models=signed):
        status = main(["smoke", "--url", url, "--models", str(models), *map(str, files)])
        return status, capsys.readouterr().err.splitlines()

    assert smoke(server.url) == (0, [])
    status, lines = smoke(other.url)
    assert status == 1 and len(lines) == 1 and "does not serve the signed model" in lines[0], lines
    (signed / "model.sig").unlink()
    status, lines = smoke(server.url)
    assert status == 1 and len(lines) == 1 and "model.sig not found" in lines[0], lines
