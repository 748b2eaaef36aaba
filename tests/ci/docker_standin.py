"""STAND-IN for the docker CLI (no engine here) in the Jenkinsfile's Publish stage.

Records every call in DOCKER_RECORD as N.json (its arguments, and the password a `login` read
on stdin). `build` remembers the build context for its tags; `run --detach --name NAME
--publish 127.0.0.1:PORT:8080 IMAGE` starts what the image would run, the prediction service
(gunicorn, as the Dockerfile's CMD does) on the model in that context, on 127.0.0.1:PORT;
`logs NAME` prints its log and `rm --force NAME` stops it. Pushes go nowhere.
"""

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

RECORD = Path(os.environ["DOCKER_RECORD"])


def option(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


def main(args: list[str]) -> int:
    RECORD.mkdir(parents=True, exist_ok=True)
    count = len(list(RECORD.glob("*.json")))
    stdin = sys.stdin.read() if args[:1] == ["login"] else ""
    (RECORD / f"{count}.json").write_text(json.dumps({"args": args, "stdin": stdin}))
    containers = RECORD / "containers"
    containers.mkdir(exist_ok=True)
    if args[0] == "build":
        context = Path(args[-1]).resolve()
        for index, arg in enumerate(args):
            if arg == "--tag":
                (containers / f"image-{len(list(containers.glob('image-*')))}.json").write_text(
                    json.dumps({"tag": args[index + 1], "context": str(context)})
                )
    elif args[0] == "run":
        images = [json.loads(path.read_text()) for path in containers.glob("image-*.json")]
        contexts = {image["tag"]: image["context"] for image in images}
        if args[-1] not in contexts:
            print(f"docker stand-in: Unable to find image '{args[-1]}' locally", file=sys.stderr)
            return 125
        name, publish = option(args, "--name"), option(args, "--publish")
        host, port, container_port = publish.rsplit(":", 2)
        assert host == "127.0.0.1" and container_port == "8080", publish
        log = (containers / f"{name}.log").open("w")
        env = {**os.environ, "PORT": port, "WEB_CONCURRENCY": "1"}
        env["MLOPS_MODEL_DIR"] = str(Path(contexts[args[-1]]) / "models")
        process = subprocess.Popen(
            ["gunicorn", "-c", "python:mlops.serving.gunicorn_conf"],
            cwd=contexts[args[-1]], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        (containers / f"{name}.pid").write_text(str(process.pid))
        print(f"{name}-stand-in-id")
    elif args[0] == "logs":
        print((containers / f"{args[-1]}.log").read_text())
    elif args[0] == "rm":
        pid_file = containers / f"{args[-1]}.pid"
        if pid_file.exists():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(int(pid_file.read_text()), signal.SIGTERM)
            pid_file.unlink()
    elif args[0] not in ("login", "push", "tag"):
        print(f"docker stand-in: `docker {args[0]}` is not implemented", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
