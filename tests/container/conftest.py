import sys
from pathlib import Path

# podman_env.py is a plain module beside the tests, also run as a script by `make image`.
sys.path.insert(0, str(Path(__file__).parent))
