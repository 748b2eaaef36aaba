"""A STAND-IN for kubectl (no cluster here): `kustomize` runs the real one; anything else is recorded."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

# STAND-IN for kubectl: `kustomize` runs the real one; anything else is recorded, with a copy
# of every file passed with -f, and answers as kubectl does on success.
KUBECTL_STAND_IN = """#!/usr/bin/env bash
set -euo pipefail
if [ "$1" = kustomize ]; then exec "$REAL_KUBECTL" "$@"; fi
n=$(find "$KUBECTL_RECORD" -name "*.args" | wc -l)
printf '%s\\n' "$@" > "$KUBECTL_RECORD/$n.args"
args=("$@")
for i in "${!args[@]}"; do
  if [ "${args[$i]}" = -f ]; then cp "${args[$((i + 1))]}" "$KUBECTL_RECORD/$n.yaml"; fi
done
case "$1" in
  apply) echo "deployment.apps/mlops-serving configured" ;;
  rollout) echo 'deployment "mlops-serving" successfully rolled out' ;;
  get) printf '%s\\n' "${KUBECTL_LIVE:-}" ;; # what the cluster serves ("IMAGE REPLICAS"), or nothing
  delete) echo "deployment.apps \\"$3\\" deleted" ;;
  # Runs until stopped, as kubectl's does; what listens on the local port is the test's to start.
  port-forward) echo "Forwarding from 127.0.0.1:${@: -1}"; exec sleep 600 ;;
esac
"""


def kubectl_stand_in(folder: Path) -> dict[str, str]:
    """The environment with the stand-in first on PATH: PATH, REAL_KUBECTL and KUBECTL_RECORD (where it records)."""
    real = shutil.which("kubectl")
    assert real, "kubectl (with kustomize) is needed: .ci/apt-packages.txt"
    bin_dir, record = folder / "kubectl-bin", folder / "kubectl-record"
    bin_dir.mkdir()
    record.mkdir()
    stand_in = bin_dir / "kubectl"
    stand_in.write_text(KUBECTL_STAND_IN)
    stand_in.chmod(0o755)
    return {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "REAL_KUBECTL": real, "KUBECTL_RECORD": str(record)}
