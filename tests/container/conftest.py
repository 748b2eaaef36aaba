import sys
from pathlib import Path

# podman_env.py is a plain module beside the tests, also run as a script.
sys.path.insert(0, str(Path(__file__).parent))


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "container: builds and runs a container image (docker or podman)"
    )
