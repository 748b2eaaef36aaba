import sys
from pathlib import Path

# podman_env.py is a plain module beside the tests (also a script: `eval "$(python tests/container/podman_env.py)"`).
sys.path.insert(0, str(Path(__file__).parent))
