"""An S3-compatible server on loopback for the tests: moto in server mode, dummy credentials."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

from mlops.http import free_port
from tests.waiting import wait_for_url

from .test_prometheus import running_process

DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@contextlib.contextmanager
def s3_server(log_path: Path) -> Iterator[dict[str, str]]:
    """Start moto's server; yield the environment that points AWS clients (and DVC) at it."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    with running_process(command, log_path) as process:
        wait_for_url(f"{url}/moto-api/", 60, lambda: f"moto's server: {log_path.read_text()[-2000:]}", process)
        yield {**DUMMY_CREDENTIALS, "AWS_ENDPOINT_URL": url}


def make_bucket(env: dict[str, str], name: str):
    """A new bucket on the server; returns a boto3 client for it (the test's side, as a log shipper)."""
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env["AWS_DEFAULT_REGION"],
    )
    client.create_bucket(Bucket=name)
    return client
