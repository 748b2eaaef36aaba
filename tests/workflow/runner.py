"""Run a GitHub Actions job's steps on this machine, for the workflow tests.

A GitHub-hosted runner cannot run here, so this plays one: each job gets a fresh clone of
the repository at the commit, `run:` steps run with bash exactly as written, and every
`uses:` step is replaced by a local STAND-IN (a local composite action, `uses: ./path`, runs
its own steps, each handled the same way):

- actions/checkout        -> a clone at the commit (or at `ref`, into `path`)
- actions/setup-python    -> the interpreter running the tests (the clone's .venv points at it)
- actions/cache[/restore] -> a folder per cache key under the runner's temporary directory
- upload/download-artifact -> a folder per artifact name, shared between the jobs of a test
- iterative/setup-cml     -> puts a `cml` recorder on PATH (see CML_RECORDER)
- docker/*                -> cannot run (no Docker engine): the job stops before them

Expressions `${{ ... }}` are evaluated for the small subset the workflows use (context
lookups, ==, !=, &&, ||, !, hashFiles, cancelled/always/success); every `secrets.*` lookup is
recorded so a test can assert which paths read secrets.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import site
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SITE_PACKAGES = next(path for path in site.getsitepackages() if path.endswith("site-packages"))

# The `cml` stand-in: checks its arguments against CML's documented `comment create|update`
# options (bin/cml/comment/create.js of CML 0.20) and global options, then saves what it would post.
CML_RECORDER = r'''#!PYTHON
"""STAND-IN for the CML CLI (its npm package cannot be installed here): records `cml comment`."""
import json, os, re, shutil, sys
from pathlib import Path

COMMENT_FLAGS = {"target", "watch", "trigger-file", "publish", "publish-url", "publish-native", "native",
                 "watermark-title", "rm-watermark", "pr", "commit-sha", "head-sha"}
GLOBAL_FLAGS = {"driver", "repo", "token", "log", "driver-token"}
BOOLEAN = {"watch", "publish", "publish-native", "native", "rm-watermark", "pr"}

def fail(message):
    print(f"cml stand-in: {message}", file=sys.stderr)
    sys.exit(2)

args = sys.argv[1:]
if args[:1] != ["comment"] or len(args) < 2 or args[1] not in ("create", "update"):
    fail(f"only `cml comment create|update` is recorded, got {args}")
options, positional = {}, []
for arg in args[2:]:
    if arg.startswith("--"):
        name, _, value = arg[2:].partition("=")
        negated = name.startswith("no-") and name[3:] in BOOLEAN
        key = name[3:] if negated else name
        if key not in COMMENT_FLAGS | GLOBAL_FLAGS:
            fail(f"unknown option --{name}")
        if key in BOOLEAN and value:
            fail(f"--{name} takes no value")
        if key not in BOOLEAN and not value:
            fail(f"--{name} needs a value (use --{name}=VALUE)")
        options[key] = (not negated) if key in BOOLEAN else value
    else:
        positional.append(arg)
if len(positional) != 1 or not Path(positional[0]).is_file():
    fail(f"expected one markdown file, got {positional}")
if "target" in options and not re.fullmatch(r"(pr|commit|issue)(/[0-9A-Za-z]+)?", options["target"]):
    fail(f"bad --target {options['target']}")
if "watermark-title" in options and "rm-watermark" in options:
    fail("--watermark-title conflicts with --rm-watermark")
if not (os.environ.get("REPO_TOKEN") or options.get("token")):
    fail("no token: set REPO_TOKEN")
record = Path(os.environ["CML_RECORD_DIR"])
record.mkdir(parents=True, exist_ok=True)
count = len(list(record.glob("call-*.json")))
shutil.copy(positional[0], record / f"comment-{count}.md")
(record / f"call-{count}.json").write_text(json.dumps({"command": args[1], "options": options}))
print(f"https://github.com/stand-in/comment/{count}")
'''

# The `gh` stand-in for the comment job: answers the one question it asks (the PR's head commit).
GH_RECORDER = r"""#!/bin/bash
# STAND-IN for the GitHub CLI: `gh api repos/OWNER/REPO/pulls/N --jq .head.sha` only.
if [ "$1" = api ] && [[ "$2" =~ ^repos/.+/pulls/[0-9]+$ ]] && [ "$3" = --jq ] && [ "$4" = .head.sha ]; then
  echo "$GH_STANDIN_HEAD_SHA"; exit 0
fi
echo "gh stand-in: unexpected call: $*" >&2; exit 1
"""


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@dataclass
class StepResult:
    name: str
    returncode: int
    stdout: str = ""
    stderr: str = ""
    skipped: bool = False


@dataclass
class JobResult:
    steps: list[StepResult] = field(default_factory=list)
    workspace: Path | None = None
    summary: str = ""
    stopped_at: str | None = None  # the first step that could not run here

    @property
    def failed(self) -> StepResult | None:
        return next((step for step in self.steps if step.returncode != 0 and not step.skipped), None)


class Runner:
    def __init__(self, origin: Path, tmp: Path, event_name: str, event: dict, ref: str, sha: str, **context):
        self.origin, self.tmp = origin, tmp
        self.artifacts = tmp / "artifacts"
        self.caches = tmp / "caches"
        self.event_name, self.event, self.ref, self.sha = event_name, event, ref, sha
        self.secrets: dict[str, str] = context.get("secrets", {})
        self.vars: dict[str, str] = context.get("vars", {})
        self.extra_env: dict[str, str] = context.get("env", {})
        self.secret_reads: list[str] = []

    # ------------------------------------------------------------ expressions

    def lookup(self, path: str, ctx: dict[str, Any]) -> Any:
        parts = path.split(".")
        if parts[0] == "secrets":
            self.secret_reads.append(path)
        value: Any = ctx
        for part in parts:
            if not isinstance(value, dict) or part not in value:
                return ""
            value = value[part]
        return value

    def evaluate(self, expr: str, ctx: dict[str, Any]) -> Any:
        expr = expr.strip()
        if expr.startswith("${{") and expr.endswith("}}"):
            expr = expr[3:-2].strip()
        tokens = re.findall(r"'[^']*'|&&|\|\||==|!=|!|\(|\)|,|[A-Za-z_][\w.\-]*(?:\([^()]*\))?|\S", expr)
        python: list[str] = []
        for token in tokens:
            if token.startswith("'"):
                python.append(repr(token[1:-1]))
            elif token in ("&&", "||"):
                python.append(" and " if token == "&&" else " or ")
            elif token in ("==", "!=", "(", ")", ","):
                python.append(f" {token} ")
            elif token == "!":
                python.append(" not ")
            elif token in ("cancelled()", "failure()"):
                python.append(" False ")
            elif token in ("always()", "success()", "true"):
                python.append(" True ")
            elif token == "false":
                python.append(" False ")
            elif token.startswith("hashFiles("):
                python.append(repr(self.hash_files(token, ctx)))
            elif token.startswith("format("):
                raise ValueError(f"format() is not supported by this runner: {expr}")
            else:
                python.append(repr(self.lookup(token, ctx)))
        return eval("".join(python), {"__builtins__": {}}, {})  # only literals and operators are left

    def hash_files(self, token: str, ctx: dict[str, Any]) -> str:
        names = re.findall(r"'([^']*)'", token)
        digest = hashlib.sha256()
        for name in names:
            path = Path(ctx["github"]["workspace"]) / name
            if path.is_file():
                digest.update(path.read_bytes())
        return digest.hexdigest()

    def interpolate(self, text: Any, ctx: dict[str, Any]) -> str:
        if not isinstance(text, str):
            return "" if text is None else str(text).lower() if isinstance(text, bool) else str(text)
        return re.sub(r"\$\{\{(.*?)\}\}", lambda m: self.stringify(self.evaluate(m.group(1), ctx)), text)

    @staticmethod
    def stringify(value: Any) -> str:
        return str(value).lower() if isinstance(value, bool) else str(value)

    # ------------------------------------------------------------ the runner

    def fresh_workspace(self, name: str, ref: str | None = None) -> Path:
        workspace = self.tmp / "runners" / f"{name}-{time.monotonic_ns()}" / "work"
        workspace.parent.mkdir(parents=True)
        self.clone(workspace, ref or self.sha)
        return workspace

    def clone(self, target: Path, ref: str) -> None:
        subprocess.run(["git", "clone", "--quiet", "--no-local", str(self.origin), str(target)], check=True)
        git("checkout", "--quiet", ref, cwd=target)
        self.stand_in_venv(target)

    @staticmethod
    def stand_in_venv(workspace: Path) -> None:
        """setup-python + `make venv` STAND-IN: a .venv that sees the test interpreter's packages
        and this clone's source, with `mlops` and `dvc` commands; marked installed so make skips pip."""
        venv = workspace / ".venv"
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
        packages = next((venv / "lib").glob("python3*/site-packages"))
        (packages / "_standin.pth").write_text(f"{workspace / 'src'}\n{SITE_PACKAGES}\n")
        for command, module in (("mlops", "mlops"), ("dvc", "dvc"), ("pytest", "pytest")):
            script = venv / "bin" / command
            script.write_text(f'#!/bin/sh\nexec "$(dirname "$0")/python" -m {module} "$@"\n')
            script.chmod(0o755)
        # uv is a binary: `python -m uv` would look for it in this venv's bin and find a shim
        # calling `python -m uv` again, forever. Point at the test environment's own binary.
        import uv

        (venv / "bin" / "uv").symlink_to(uv.find_uv_bin())
        installed = venv / "bin" / ".installed"
        installed.touch()
        later = time.time() + 86400
        os.utime(installed, (later, later))

    def context(self, workspace: Path, env: dict[str, str], steps: dict[str, Any]) -> dict[str, Any]:
        return {
            "github": {
                "event_name": self.event_name,
                "event": self.event,
                "ref": self.ref,
                "ref_name": self.ref.rsplit("/", 1)[-1],
                "sha": self.sha,
                "repository": "example/ml-template",
                "workflow": "test",
                "token": "ghs_standin_token",
                "actor": "someone",
                "workspace": str(workspace),
            },
            "runner": {"os": "Linux", "temp": str(workspace.parent / "temp")},
            "env": env,
            "secrets": self.secrets,
            "vars": self.vars,
            "steps": steps,
        }

    def run_job(self, workflow: dict, job_name: str, stop_at_uses: tuple[str, ...] = ("docker/",)) -> JobResult:
        job = workflow["jobs"][job_name]
        if "uses" in job:  # a reusable workflow: run its single job in this job's place
            called = yaml.safe_load((self.origin / job["uses"].split("#")[0].strip()).read_text())
            return self.run_job(called, next(iter(called["jobs"])), stop_at_uses)
        workspace = self.fresh_workspace(job_name)
        temp = workspace.parent / "temp"
        temp.mkdir()
        files = {name: temp / f"_{name}" for name in ("output", "env", "path", "summary")}
        extra_path: list[str] = []
        env: dict[str, str] = {}
        steps_ctx: dict[str, Any] = {}
        result = JobResult(workspace=workspace)
        saves: list[tuple[Path, Path]] = []
        for scope in (workflow.get("env", {}), job.get("env", {})):
            for key, value in scope.items():
                env[key] = self.interpolate(value, self.context(workspace, env, steps_ctx))
        for index, step in enumerate(self.expand_local_actions(job["steps"])):
            name = step.get("name") or step.get("uses") or f"step {index}"
            ctx = self.context(workspace, env, steps_ctx)
            step_env = dict(env)
            for key, value in step.get("env", {}).items():
                step_env[key] = self.interpolate(value, {**ctx, "env": step_env})
            condition = step.get("if")
            if condition is not None and not self.evaluate(str(condition), {**ctx, "env": step_env}):
                result.steps.append(StepResult(name, 0, skipped=True))
                continue
            if "uses" in step:
                action = step["uses"].split("@")[0]
                if action.startswith(stop_at_uses):
                    result.stopped_at = name
                    break
                inputs = {key: self.interpolate(value, ctx) for key, value in step.get("with", {}).items()}
                outcome = self.stand_in(action, inputs, workspace, extra_path, saves)
                result.steps.append(StepResult(name, 0, stdout=outcome))
                continue
            for file in files.values():
                file.write_text("")
            process_env = {
                "PATH": os.pathsep.join([*reversed(extra_path), os.environ["PATH"]]),
                "HOME": str(workspace.parent),
                "LANG": "C.UTF-8",
                "CI": "true",
                "GITHUB_ACTIONS": "true",
                "GITHUB_WORKSPACE": str(workspace),
                "GITHUB_REPOSITORY": "example/ml-template",
                "GITHUB_SERVER_URL": "https://github.com",
                "GITHUB_RUN_ID": "4242",
                "GITHUB_SHA": self.sha,
                "GITHUB_REF": self.ref,
                "GITHUB_EVENT_NAME": self.event_name,
                "GITHUB_OUTPUT": str(files["output"]),
                "GITHUB_ENV": str(files["env"]),
                "GITHUB_PATH": str(files["path"]),
                "GITHUB_STEP_SUMMARY": str(files["summary"]),
                "RUNNER_TEMP": str(temp),
                "RUNNER_OS": "Linux",
                **self.extra_env,
                **step_env,
            }
            script = self.interpolate(step["run"], ctx)
            completed = subprocess.run(
                ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
                cwd=workspace / step.get("working-directory", "."),
                env=process_env,
                capture_output=True,
                text=True,
                timeout=900,
            )
            result.steps.append(StepResult(name, completed.returncode, completed.stdout, completed.stderr))
            outputs = dict(line.split("=", 1) for line in files["output"].read_text().splitlines() if "=" in line)
            if "id" in step:
                steps_ctx[step["id"]] = {"outputs": outputs}
            for line in files["env"].read_text().splitlines():
                if "=" in line:
                    key, value = line.split("=", 1)
                    env[key] = value
            extra_path += [line for line in files["path"].read_text().splitlines() if line]
            result.summary += files["summary"].read_text()
            if completed.returncode != 0 and not step.get("continue-on-error"):
                break
        for source, cache in saves:
            if source.exists() and not cache.exists():
                shutil.copytree(source, cache)
        return result

    def expand_local_actions(self, steps: list[dict]) -> list[dict]:
        """Replace each `uses: ./path` composite action by its own steps, its `inputs.*` filled in
        from the step's `with` (or the input's default), as GitHub runs them."""
        expanded: list[dict] = []
        for step in steps:
            if not str(step.get("uses", "")).startswith("./"):
                expanded.append(step)
                continue
            action = yaml.safe_load((self.origin / step["uses"] / "action.yml").read_text())
            assert action["runs"]["using"] == "composite", f"{step['uses']} is not a composite action"
            given = step.get("with", {})
            values = {name: str(given.get(name, spec.get("default", ""))) for name, spec in action["inputs"].items()}
            text = yaml.safe_dump(action["runs"]["steps"], sort_keys=False)
            for name, value in values.items():
                text = re.sub(rf"\$\{{\{{\s*inputs\.{re.escape(name)}\s*\}}\}}", value.replace("\\", "\\\\"), text)
            expanded += yaml.safe_load(text)
        return expanded

    def stand_in(self, action: str, inputs: dict[str, str], workspace: Path, extra_path: list, saves: list) -> str:
        if action == "actions/checkout":
            if "path" in inputs:
                ref = inputs.get("ref") or self.sha
                self.clone(workspace / inputs["path"], ref if ref == self.sha else f"origin/{ref}")
            return "checkout stand-in: clone at the commit"
        if action == "actions/setup-python":
            return f"setup-python stand-in: {sys.executable}"
        if action in ("actions/cache", "actions/cache/restore"):
            keys = [inputs["key"], *inputs.get("restore-keys", "").split()]
            target = workspace / inputs["path"]
            for key in keys:
                hits = (
                    sorted(p for p in self.caches.iterdir() if p.name.startswith(key)) if self.caches.is_dir() else []
                )
                exact = self.caches / key
                hit = exact if exact.is_dir() else (hits[0] if hits and key != inputs["key"] else None)
                if hit:
                    shutil.copytree(hit, target, dirs_exist_ok=True)
                    break
            if action == "actions/cache":
                saves.append((target, self.caches / inputs["key"]))
            return "cache stand-in"
        if action == "actions/upload-artifact":
            return self.upload(inputs, workspace)
        if action == "actions/download-artifact":
            source = self.artifacts / inputs["name"]
            if not source.is_dir():
                raise FileNotFoundError(f"artifact {inputs['name']} was never uploaded")
            shutil.copytree(source, workspace / inputs.get("path", "."), dirs_exist_ok=True)
            return "download-artifact stand-in"
        if action == "iterative/setup-cml":
            assert inputs.get("vega") == "false", "setup-cml must be given vega: false"
            assert re.fullmatch(r"v?\d+\.\d+\.\d+", inputs.get("version", "")), "setup-cml must pin a CML version"
            tools = workspace.parent / "tools"
            tools.mkdir(exist_ok=True)
            (tools / "cml").write_text(CML_RECORDER.replace("PYTHON", sys.executable, 1))
            (tools / "gh").write_text(GH_RECORDER)
            for tool in ("cml", "gh"):
                (tools / tool).chmod(0o755)
            extra_path.append(str(tools))
            return "setup-cml stand-in: cml recorder on PATH"
        raise NotImplementedError(f"no stand-in for {action}")

    def upload(self, inputs: dict[str, str], workspace: Path) -> str:
        files: list[Path] = []
        for pattern in inputs["path"].split("\n"):
            pattern = pattern.strip()
            if not pattern:
                continue
            path = (workspace / pattern) if not os.path.isabs(pattern) else Path(pattern)
            files += [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else [path] if path.is_file() else []
        if not files:
            if inputs.get("if-no-files-found") == "error":
                raise FileNotFoundError(f"artifact {inputs['name']}: no files found")
            return "upload-artifact stand-in: nothing to upload"
        root = Path(os.path.commonpath([str(p.parent) for p in files]))  # as actions/upload-artifact does
        target = self.artifacts / inputs["name"]
        for file in files:
            destination = target / file.relative_to(root)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(file, destination)
        return f"upload-artifact stand-in: {len(files)} files"


def load_workflow(root: Path, name: str) -> dict:
    data = yaml.safe_load((root / ".github" / "workflows" / name).read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as True
    return data


def event_for(kind: str, **values: Any) -> dict:
    return json.loads(json.dumps({"repository": {"default_branch": "main", "name": "ml-template"}, **values}))
