"""STAND-IN for the part of GitHub's REST API the workflows use, holding state like GitHub.

GitHub cannot be reached from the tests, so this small HTTPS server on 127.0.0.1 answers the
calls that `gh` (the real CLI, pointed here by the harness's shim) and the `cml` stand-in
make, under GitHub Enterprise's ``/api/v3`` prefix: pull requests (listed by head, opened,
edited; one open pull request per branch, as GitHub allows) and their head commits,
issue and pull-request comments, issues and labels, workflows and their dispatches, runs and
their artifacts (served from the world's artifact storage). Tests assert on ``state``.

Runs carry GitHub's times, to the second (``created_at``, ``run_started_at``, ``updated_at``): the
world sets them as it starts and completes each run, from the same clock as comments' times, and
``GET .../actions/runs/ID`` answers them as the ``workflow_run`` payload carries them.

A workflow dispatch is refused with 422, as GitHub refuses it, when the workflow file at that
ref has no ``workflow_dispatch`` trigger.

Artifact attestations: ``POST /repos/OWNER/REPO/attestations`` stores a Sigstore bundle (as
actions/attest-build-provenance does, refused without a DSSE envelope or subject), and
``GET /repos/OWNER/REPO/attestations/sha256:DIGEST`` lists the bundles whose statement names
that digest, 404 when none does, as GitHub answers.

Deployments and their statuses (``/repos/OWNER/REPO/deployments``, ``.../deployments/ID/statuses``):
a deployment of a commit, branch or tag the repository has (422 "No ref found" otherwise) to an
environment, with its task and payload; statuses in GitHub's states (a description of at most
140 characters); a ``success`` status with ``auto_inactive`` (the default) adds an ``inactive``
status to the earlier deployments of the environment whose last state was ``success``, except
transient and production ones, as GitHub's documentation says. Lists come newest first, a page
at a time (``per_page``, ``page``, a ``Link`` header to the next page, as ``gh --paginate`` follows).
"""

from __future__ import annotations

import base64
import calendar
import datetime
import io
import json
import re
import ssl
import subprocess
import threading
import time
import zipfile
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlparse

import yaml


@dataclass
class State:
    repository: str
    bare: Path  # the repository's git storage, to read workflow files at a ref
    storage: Path  # runs/<id>/artifacts/<name>/ as the artifact stand-ins write them
    default_branch: str = "main"
    api_url: str = ""  # set when the server starts
    pulls: dict[int, dict] = field(default_factory=dict)
    comments: list[dict] = field(default_factory=list)  # issue and pull-request comments
    issues: dict[int, dict] = field(default_factory=dict)
    labels: dict[str, dict] = field(default_factory=dict)
    dispatches: list[dict] = field(default_factory=list)
    runs: dict[int, dict] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    read_only_tokens: set[str] = field(default_factory=set)  # what GitHub gives a fork's pull-request run
    attestations: list[dict] = field(default_factory=list)  # {"id", "bundle", "digests"}
    deployments: dict[int, dict] = field(default_factory=dict)
    deployment_statuses: dict[int, list[dict]] = field(default_factory=dict)  # deployment id -> oldest first
    next_id: int = 1000

    def next_number(self) -> int:
        """Issues and pull requests share one sequence of numbers, as on GitHub."""
        return max([0, *self.issues, *self.pulls]) + 1

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def comments_on(self, number: int) -> list[dict]:
        return [c for c in self.comments if c["issue_number"] == number]

    def commit_of(self, ref: str) -> str | None:
        """The commit a SHA, branch or tag names in the repository; None when it names none."""
        done = subprocess.run(
            ["git", "--git-dir", str(self.bare), "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"],
            capture_output=True,
            text=True,
        )
        return done.stdout.strip() if done.returncode == 0 else None

    def workflow_text(self, path: str, ref: str) -> str | None:
        done = subprocess.run(
            ["git", "--git-dir", str(self.bare), "show", f"{ref}:{path}"], capture_output=True, text=True
        )
        return done.stdout if done.returncode == 0 else None

    def has_branch(self, branch: str) -> bool:
        done = subprocess.run(
            ["git", "--git-dir", str(self.bare), "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"],
            capture_output=True,
        )
        return done.returncode == 0

    def workflow_files(self) -> list[str]:
        tree = f"{self.default_branch}:.github/workflows"
        done = subprocess.run(
            ["git", "--git-dir", str(self.bare), "ls-tree", "--name-only", tree], capture_output=True, text=True
        )
        return done.stdout.split()

    def artifacts(self, run_id: int) -> list[dict]:
        folder = self.storage / "runs" / str(run_id) / "artifacts"
        found = []
        for index, path in enumerate(sorted(folder.glob("*")) if folder.is_dir() else []):
            artifact_id = run_id * 100 + index
            url = f"{self.api_url}/repos/{self.repository}/actions/artifacts/{artifact_id}/zip"
            found.append(
                {
                    "id": artifact_id,
                    "name": path.name,
                    "expired": False,
                    "size_in_bytes": sum(f.stat().st_size for f in path.rglob("*") if f.is_file()),
                    "archive_download_url": url,
                    "workflow_run": {"id": run_id},
                }
            )
        return found


class Handler(BaseHTTPRequestHandler):
    state: State
    lock = threading.Lock()

    def log_message(self, *args) -> None:  # quiet; requests are kept in state.requests
        pass

    def reply(self, status: int, body=None, headers: dict[str, str] | None = None) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def body(self) -> dict:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":  # how gh sends `--input -`
            data = b""
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                data += self.rfile.read(size)
                self.rfile.readline()
            while self.rfile.readline().strip():  # trailers, up to the empty line
                pass
            return json.loads(data or b"{}")
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}") if length else {}

    def do_GET(self) -> None:
        self.route("GET")

    def do_POST(self) -> None:
        self.route("POST")

    def do_PATCH(self) -> None:
        self.route("PATCH")

    def route(self, method: str) -> None:
        url = urlparse(self.path)
        path = re.sub(r"^/api/v3", "", url.path).rstrip("/")
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        with self.lock:
            self.state.requests.append(f"{method} {path}")
            token = (self.headers.get("Authorization") or "").split(" ")[-1]
            if not token:
                return self.reply(401, {"message": "Requires authentication"})
            if method != "GET" and token in self.state.read_only_tokens:
                return self.reply(403, {"message": "Resource not accessible by integration"})
            repo = f"/repos/{self.state.repository}"
            for pattern, handler in ROUTES.get(method, []):
                match = re.fullmatch(pattern.replace("{repo}", re.escape(repo)), path)
                if match:
                    return handler(self, query, *match.groups())
            self.reply(404, {"message": f"Not Found (stand-in has no {method} {path})"})


def comment_json(comment: dict) -> dict:
    return {k: v for k, v in comment.items() if k != "issue_number"}


def get_repo(h: Handler, q) -> None:
    name = h.state.repository
    h.reply(200, {"full_name": name, "name": name.split("/")[1], "default_branch": h.state.default_branch})


def get_pull(h: Handler, q, number) -> None:
    pull = h.state.pulls.get(int(number))
    h.reply(200, pull) if pull else h.reply(404, {"message": "Not Found"})


def list_pulls(h: Handler, q) -> None:
    """GitHub's filters: state (open, closed, all) and head as owner:branch."""
    state = q.get("state", "open")
    found = [p for p in sorted(h.state.pulls.values(), key=lambda p: -p["number"]) if state in ("all", p["state"])]
    if "head" in q:
        owner, _, branch = q["head"].partition(":")
        found = [p for p in found if p["head"]["ref"] == branch and pull_owner(h, p) == owner]
    h.reply(200, found[: int(q.get("per_page", 30))])


def pull_owner(h: Handler, pull: dict) -> str:
    return pull.get("head_repository", h.state.repository).split("/")[0]


def create_pull(h: Handler, q) -> None:
    data = h.body()
    missing = [key for key in ("title", "head", "base") if not data.get(key)]
    if missing:
        return h.reply(
            422, {"message": "Validation Failed", "errors": [{"field": k, "code": "missing_field"} for k in missing]}
        )
    branch = data["head"].partition(":")[2] or data["head"]
    if not h.state.has_branch(branch):
        return h.reply(422, {"message": "Validation Failed", "errors": [{"field": "head", "code": "invalid"}]})
    if any(p["state"] == "open" and p["head"]["ref"] == branch for p in h.state.pulls.values()):
        message = f"A pull request already exists for {h.state.repository.split('/')[0]}:{branch}."
        return h.reply(
            422,
            {
                "message": "Validation Failed",
                "errors": [{"resource": "PullRequest", "code": "custom", "message": message}],
            },
        )
    number = h.state.next_number()
    pull = {
        "number": number,
        "state": "open",
        "title": data["title"],
        "body": data.get("body", ""),
        "head": {"ref": branch},
        "base": {"ref": data["base"]},
        "head_repository": h.state.repository,
        "user": {"login": "github-actions[bot]"},
    }
    h.state.pulls[number] = pull
    h.reply(201, pull)


def edit(h: Handler, found: dict | None) -> None:
    """PATCH of an issue or a pull request: its title, body and state."""
    if found is None:
        return h.reply(404, {"message": "Not Found"})
    found.update({k: v for k, v in h.body().items() if k in ("title", "body", "state")})
    h.reply(200, found)


def update_pull(h: Handler, q, number) -> None:
    edit(h, h.state.pulls.get(int(number)))


def now() -> str:
    """The time as GitHub writes it in comments (created_at, updated_at): UTC, to the second."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(clock()))


clock = time.time  # the tests set another


def seconds(stamp: str) -> int:
    """A time as GitHub writes it (2027-01-15T08:00:00Z), in seconds since the epoch."""
    return calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ"))


def list_comments(h: Handler, q, number) -> None:
    h.reply(200, [comment_json(c) for c in h.state.comments_on(int(number))])


def create_comment(h: Handler, q, number) -> None:
    number = int(number)
    if number not in h.state.pulls and number not in h.state.issues:
        return h.reply(404, {"message": "Not Found"})
    cid = h.state.new_id()
    comment = {"id": cid, "issue_number": number, "body": h.body()["body"], "user": {"login": "github-actions[bot]"}}
    comment["html_url"] = f"https://github.com/{h.state.repository}/issues/{number}#issuecomment-{cid}"
    comment["created_at"] = comment["updated_at"] = now()
    h.state.comments.append(comment)
    h.reply(201, comment_json(comment))


def update_comment(h: Handler, q, cid) -> None:
    comment = next((c for c in h.state.comments if c["id"] == int(cid)), None)
    if comment is None:
        return h.reply(404, {"message": "Not Found"})
    comment["body"] = h.body()["body"]
    comment["updated_at"] = now()
    h.reply(200, comment_json(comment))


def list_issues(h: Handler, q) -> None:
    wanted = set(filter(None, q.get("labels", "").split(",")))
    state = q.get("state", "open")
    found = [
        i
        for i in sorted(h.state.issues.values(), key=lambda i: -i["number"])
        if (state == "all" or i["state"] == state) and wanted <= {label["name"] for label in i["labels"]}
    ]
    h.reply(200, found)


def create_issue(h: Handler, q) -> None:
    data = h.body()
    number = h.state.next_number()
    labels = [h.state.labels.get(name, {"name": name}) for name in data.get("labels", [])]
    issue = {"number": number, "title": data["title"], "body": data.get("body", ""), "state": "open", "labels": labels}
    h.state.issues[number] = issue
    h.reply(201, issue)


def update_issue(h: Handler, q, number) -> None:
    edit(h, h.state.issues.get(int(number)))


def get_label(h: Handler, q, name) -> None:
    label = h.state.labels.get(name)
    h.reply(200, label) if label else h.reply(404, {"message": "Not Found"})


def create_label(h: Handler, q) -> None:
    data = h.body()
    if data["name"] in h.state.labels:
        error = {"resource": "Label", "code": "already_exists", "field": "name"}  # GitHub's answer, in full
        return h.reply(422, {"message": "Validation Failed", "errors": [error]})
    h.state.labels[data["name"]] = {k: data.get(k, "") for k in ("name", "color", "description")}
    h.reply(201, h.state.labels[data["name"]])


def update_label(h: Handler, q, name) -> None:
    if name not in h.state.labels:
        return h.reply(404, {"message": "Not Found"})
    h.state.labels[name].update(h.body())
    h.reply(200, h.state.labels[name])


def workflow_json(h: Handler, file: str) -> dict:
    return {
        "id": zlib.crc32(file.encode()) % 10**6,
        "name": file,
        "path": f".github/workflows/{file}",
        "state": "active",
    }


def workflow_file(h: Handler, key: str) -> str:
    """A workflow is named by its file name or its id."""
    if not key.isdigit():
        return key
    listed = h.state.workflow_files()
    return next((name for name in listed if workflow_json(h, name)["id"] == int(key)), key)


def get_workflow(h: Handler, q, file) -> None:
    file = workflow_file(h, file)
    if h.state.workflow_text(f".github/workflows/{file}", h.state.default_branch) is None:
        return h.reply(404, {"message": "Not Found"})
    h.reply(200, workflow_json(h, file))


def list_workflows(h: Handler, q) -> None:
    listed = h.state.workflow_files()
    found = [workflow_json(h, name) for name in listed]
    h.reply(200, {"total_count": len(found), "workflows": found})


def get_contents(h: Handler, q, path) -> None:
    text = h.state.workflow_text(path, q.get("ref", h.state.default_branch))
    if text is None:
        return h.reply(404, {"message": "Not Found"})
    content = base64.b64encode(text.encode()).decode()
    h.reply(
        200, {"type": "file", "encoding": "base64", "name": path.rsplit("/", 1)[-1], "path": path, "content": content}
    )


def dispatch(h: Handler, q, file) -> None:
    file = workflow_file(h, file)
    data = h.body()
    text = h.state.workflow_text(f".github/workflows/{file}", data.get("ref", h.state.default_branch))
    if text is None:
        return h.reply(404, {"message": "Not Found"})
    triggers = yaml.safe_load(text).get(True, {})
    if "workflow_dispatch" not in (triggers if isinstance(triggers, (dict, list)) else [triggers]):
        return h.reply(422, {"message": "Workflow does not have 'workflow_dispatch' trigger"})
    h.state.dispatches.append({"workflow": file, "ref": data.get("ref"), "inputs": data.get("inputs", {})})
    h.reply(204)


def list_runs(h: Handler, q, file=None) -> None:
    runs = sorted(h.state.runs.values(), key=lambda r: -r["id"])
    if file is not None:
        file = workflow_file(h, file)
        runs = [r for r in runs if r["path"] == f".github/workflows/{file}"]
    for key, field_name in (("branch", "head_branch"), ("event", "event"), ("head_sha", "head_sha")):
        if key in q:
            runs = [r for r in runs if r[field_name] == q[key]]
    if "status" in q:
        runs = [r for r in runs if q["status"] in (r["status"], r["conclusion"])]
    runs = runs[: int(q.get("per_page", 30))]
    h.reply(200, {"total_count": len(runs), "workflow_runs": runs})


def get_run(h: Handler, q, run_id) -> None:
    run = h.state.runs.get(int(run_id))
    h.reply(200, run) if run else h.reply(404, {"message": "Not Found"})


def list_artifacts(h: Handler, q, run_id) -> None:
    found = h.state.artifacts(int(run_id))
    if "name" in q:
        found = [a for a in found if a["name"] == q["name"]]
    h.reply(200, {"total_count": len(found), "artifacts": found})


def download_zip(h: Handler, q, artifact_id) -> None:
    run_id, index = divmod(int(artifact_id), 100)
    found = h.state.artifacts(run_id)
    if index >= len(found):
        return h.reply(404, {"message": "Not Found"})
    folder = h.state.storage / "runs" / str(run_id) / "artifacts" / found[index]["name"]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for file in sorted(folder.rglob("*")):
            if file.is_file():
                archive.write(file, file.relative_to(folder).as_posix())
    data = buffer.getvalue()
    h.send_response(200)
    h.send_header("Content-Type", "application/zip")
    h.send_header("Content-Length", str(len(data)))
    h.end_headers()
    h.wfile.write(data)


def statement_digests(bundle: dict) -> set[str]:
    payload = json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))
    return {f"sha256:{subject['digest']['sha256']}" for subject in payload["subject"]}


def create_attestation(h: Handler, q) -> None:
    bundle = h.body().get("bundle")
    try:
        digests = statement_digests(bundle)
    except (KeyError, TypeError, ValueError):
        return h.reply(422, {"message": "Validation Failed: the bundle has no DSSE envelope with subjects"})
    attestation = {"id": h.state.new_id(), "bundle": bundle, "digests": digests}
    h.state.attestations.append(attestation)
    h.reply(201, {"id": attestation["id"]})


def list_attestations(h: Handler, q, digest) -> None:
    found = [a for a in h.state.attestations if digest in a["digests"]]
    if not found:
        return h.reply(404, {"message": "Not Found"})
    h.reply(200, {"attestations": [{"bundle": a["bundle"], "repository_id": 1, "bundle_url": None} for a in found]})


def timestamp() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def reply_page(h: Handler, q, path: str, items: list) -> None:
    """One page of a list (GitHub's per_page, at most 100, and page), with the Link header gh follows."""
    per_page, page = min(int(q.get("per_page", 30)), 100), int(q.get("page", 1))
    last = max(1, -(-len(items) // per_page))
    links = {}
    if page < last:
        links = {"next": page + 1, "last": last}
    header = ", ".join(
        f'<{h.state.api_url}{path}?{urlencode({**q, "page": number})}>; rel="{rel}"' for rel, number in links.items()
    )
    h.reply(200, items[(page - 1) * per_page : page * per_page], {"Link": header} if header else None)


def create_deployment(h: Handler, q) -> None:
    data = h.body()
    if not data.get("ref"):
        return h.reply(422, {"message": 'Invalid request.\n\n"ref" wasn\'t supplied.'})
    sha = h.state.commit_of(data["ref"])
    if sha is None:
        return h.reply(422, {"message": f"No ref found for: {data['ref']}"})
    environment = data.get("environment", "production")
    deployment_id = h.state.new_id()
    url = f"{h.state.api_url}/repos/{h.state.repository}/deployments/{deployment_id}"
    deployment = {
        "id": deployment_id,
        "url": url,
        "sha": sha,
        "ref": data["ref"],
        "task": data.get("task", "deploy"),
        "payload": data.get("payload", {}),
        "original_environment": environment,
        "environment": environment,
        "description": data.get("description"),
        "creator": {"login": "github-actions[bot]"},
        "created_at": timestamp(),
        "updated_at": timestamp(),
        "statuses_url": f"{url}/statuses",
        "repository_url": f"{h.state.api_url}/repos/{h.state.repository}",
        "transient_environment": bool(data.get("transient_environment", False)),
        "production_environment": bool(data.get("production_environment", environment == "production")),
    }
    h.state.deployments[deployment_id] = deployment
    h.state.deployment_statuses[deployment_id] = []
    h.reply(201, deployment)


def list_deployments(h: Handler, q) -> None:
    found = sorted(h.state.deployments.values(), key=lambda d: -d["id"])
    for key in ("sha", "ref", "task", "environment"):
        if key in q:
            found = [d for d in found if d[key] == q[key]]
    reply_page(h, q, f"/repos/{h.state.repository}/deployments", found)


def get_deployment(h: Handler, q, deployment_id) -> None:
    found = h.state.deployments.get(int(deployment_id))
    h.reply(200, found) if found else h.reply(404, {"message": "Not Found"})


STATES = ("error", "failure", "inactive", "in_progress", "queued", "pending", "success")


def add_status(h: Handler, deployment: dict, data: dict) -> dict:
    status_id = h.state.new_id()
    log_url = data.get("log_url") or data.get("target_url") or ""
    status = {
        "id": status_id,
        "state": data["state"],
        "creator": {"login": "github-actions[bot]"},
        "description": data.get("description", ""),
        "environment": data.get("environment") or deployment["environment"],
        "target_url": log_url,
        "log_url": log_url,
        "environment_url": data.get("environment_url", ""),
        "created_at": timestamp(),
        "updated_at": timestamp(),
        "deployment_url": deployment["url"],
        "repository_url": deployment["repository_url"],
    }
    h.state.deployment_statuses[deployment["id"]].append(status)
    return status


def create_deployment_status(h: Handler, q, deployment_id) -> None:
    deployment = h.state.deployments.get(int(deployment_id))
    if deployment is None:
        return h.reply(404, {"message": "Not Found"})
    data = h.body()
    if data.get("state") not in STATES:
        return h.reply(422, {"message": f"Validation Failed: state must be one of {', '.join(STATES)}"})
    if len(data.get("description") or "") > 140:
        return h.reply(422, {"message": "Validation Failed: description is too long (maximum is 140 characters)"})
    status = add_status(h, deployment, data)
    if data["state"] == "success" and data.get("auto_inactive", True):
        for earlier in h.state.deployments.values():
            statuses = h.state.deployment_statuses[earlier["id"]]
            if (
                earlier["id"] < deployment["id"]
                and earlier["environment"] == deployment["environment"]
                and not earlier["transient_environment"]
                and not earlier["production_environment"]
                and statuses
                and statuses[-1]["state"] == "success"
            ):
                add_status(h, earlier, {"state": "inactive"})
    h.reply(201, status)


def list_deployment_statuses(h: Handler, q, deployment_id) -> None:
    if int(deployment_id) not in h.state.deployments:
        return h.reply(404, {"message": "Not Found"})
    newest_first = list(reversed(h.state.deployment_statuses[int(deployment_id)]))
    reply_page(h, q, f"/repos/{h.state.repository}/deployments/{deployment_id}/statuses", newest_first)


ROUTES = {
    "GET": [
        (r"{repo}", get_repo),
        (r"{repo}/pulls", list_pulls),
        (r"{repo}/pulls/(\d+)", get_pull),
        (r"{repo}/issues/(\d+)/comments", list_comments),
        (r"{repo}/issues", list_issues),
        (r"{repo}/labels/([^/]+)", get_label),
        (r"{repo}/actions/workflows", list_workflows),
        (r"{repo}/actions/workflows/([^/]+)", get_workflow),
        (r"{repo}/contents/(.+)", get_contents),
        (r"{repo}/actions/workflows/([^/]+)/runs", list_runs),
        (r"{repo}/actions/runs", list_runs),
        (r"{repo}/actions/runs/(\d+)", get_run),
        (r"{repo}/actions/runs/(\d+)/artifacts", list_artifacts),
        (r"{repo}/actions/artifacts/(\d+)/zip", download_zip),
        (r"{repo}/attestations/(sha256:[0-9a-f]{64})", list_attestations),
        (r"{repo}/deployments", list_deployments),
        (r"{repo}/deployments/(\d+)", get_deployment),
        (r"{repo}/deployments/(\d+)/statuses", list_deployment_statuses),
    ],
    "POST": [
        (r"{repo}/pulls", create_pull),
        (r"{repo}/issues/(\d+)/comments", create_comment),
        (r"{repo}/issues", create_issue),
        (r"{repo}/labels", create_label),
        (r"{repo}/actions/workflows/([^/]+)/dispatches", dispatch),
        (r"{repo}/attestations", create_attestation),
        (r"{repo}/deployments", create_deployment),
        (r"{repo}/deployments/(\d+)/statuses", create_deployment_status),
    ],
    "PATCH": [
        (r"{repo}/pulls/(\d+)", update_pull),
        (r"{repo}/issues/comments/(\d+)", update_comment),
        (r"{repo}/issues/(\d+)", update_issue),
        (r"{repo}/labels/([^/]+)", update_label),
    ],
}


class GitHubAPI:
    """The server, started on 127.0.0.1 with a self-signed certificate made for the test."""

    def __init__(self, state: State, folder: Path):
        self.state = state
        folder.mkdir(parents=True, exist_ok=True)
        self.cert, key = folder / "cert.pem", folder / "key.pem"
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
             "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(key), "-out", str(self.cert)],
            check=True, capture_output=True,
        )  # fmt: skip
        handler = type("BoundHandler", (Handler,), {"state": state})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, key)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.host = f"localhost:{self.server.server_address[1]}"
        state.api_url = self.url
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"https://{self.host}/api/v3"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
