"""The audit trail: one record for every publish, deploy, canary decision, promotion and revert, in two places.

A record joins what was shipped (the registered model and its version, the image pinned by
its digest, the git commit, the data version: DVC's hash of the raw dataset, the pull-request
report's verdict) with who shipped it, why, when, and from which workflow run. It is written

- in MLflow's registry, as a tag of the model version: `mlops.record.<UTC time>.<event>.<environment>`
  holding the record as JSON (a publish also sets `mlops.image`, `mlops.commit`,
  `mlops.data_version` and `mlops.verdict`), and
- on GitHub, as a deployment of the commit to the environment (task `mlops:<event>`, the record
  as its payload) with a `success` status, through `gh api` (the deployments API). A canary that
  was rolled back gets a `failure` status instead: GitHub's environment page shows it failed.

A canary record is the canary's release with `canary` added: the decision (promote or rollback),
each signal compared (its figures against its limit), the window, and the stable release it was
compared with (image and model version).

`history` reads an environment's records back: each deploy, revert or promotion serves from its
time until the next one's; a canary's decision is listed at its time. A revert finds the release
to put back among the publish records.
"""

from __future__ import annotations

import dataclasses
import datetime
import getpass
import json
import os
import re
import subprocess
import urllib.parse
from pathlib import Path
from typing import Any

from mlops import paths
from mlops.errors import MlopsError

EVENTS = ("publish", "deploy", "promote", "revert", "canary")
SERVING = ("deploy", "revert", "promote")  # the events after which another release serves (or is champion)
RELEASE_ENVIRONMENT = "release"  # publish.yml's GitHub environment: its publish and promote records go there
TASK_PREFIX = "mlops:"  # tells these deployments from those GitHub Actions makes for a job's `environment`
IMAGE = re.compile(r"^[a-z0-9][a-z0-9./_:-]*@sha256:[0-9a-f]{64}$")  # as deploy/k8s/render accepts it
STATUS_DESCRIPTION_LIMIT = 140  # GitHub's limit on a deployment status's description
RECORD_TAG = "mlops.record."
# What a canary record keeps of `mlops canary check`'s decision file (besides each signal's line).
CANARY_KEPT = ("decision", "window", "checked_at", "prometheus", "selectors", "limits")


@dataclasses.dataclass(frozen=True)
class Record:
    event: str
    environment: str
    model: str
    version: str
    image: str  # NAME@sha256:DIGEST
    commit: str
    data: str  # DVC's md5 of the raw dataset
    verdict: str  # the report's verdict status (better, same, worse, ...), or "none"
    actor: str
    reason: str = ""
    run: str = ""  # the URL of the workflow run that wrote it
    time: str = ""  # UTC, ISO 8601 with microseconds; set when written
    canary: dict | None = None  # a canary event's decision (canary_details); None for the other events

    @property
    def digest(self) -> str:
        return self.image.partition("@")[2]

    @property
    def state(self) -> str:
        """The GitHub deployment status that says how it went: a rolled-back canary failed."""
        return "failure" if self.canary and self.canary.get("decision") != "promote" else "success"

    def as_dict(self) -> dict:
        data = {**dataclasses.asdict(self), "digest": self.digest}
        if self.canary is None:
            del data["canary"]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Record:
        names = {field.name for field in dataclasses.fields(cls)} - {"canary"}
        canary = data.get("canary")
        return cls(
            **{key: str(value) for key, value in data.items() if key in names},
            canary=canary if isinstance(canary, dict) else None,
        )

    def summary(self) -> str:
        """One line: what went where, as a status description (GitHub keeps 140 characters)."""
        line = f"{self.event} {self.model} v{self.version} {self.digest[:19]} by {self.actor}"
        if self.reason:
            line += f": {self.reason}"
        return line[:STATUS_DESCRIPTION_LIMIT]


def check_image(image: str) -> str:
    if not IMAGE.match(image):
        raise MlopsError(f"'{image}' is not NAME@sha256:<64 hex digits>: records name an image by its digest")
    return image


def now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def actor() -> str:
    return os.environ.get("GITHUB_ACTOR") or getpass.getuser()


def run_url() -> str:
    """The workflow run's page, when a GitHub Actions run writes the record."""
    names = ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")
    server, repository, run_id = (os.environ.get(name, "") for name in names)
    return f"{server}/{repository}/actions/runs/{run_id}" if all((server, repository, run_id)) else ""


def data_version(lock: Path = Path("dvc.lock")) -> str:
    """DVC's hash of the raw dataset (the ingest stage's output in dvc.lock), or "unknown"."""
    import yaml

    if not lock.is_file():
        return "unknown"
    stages = (yaml.safe_load(lock.read_text()) or {}).get("stages", {})
    for stage in stages.values():
        for out in stage.get("outs", []):
            if out.get("path") == str(paths.RAW):
                return str(out.get("md5", "unknown"))
    return "unknown"


def verdict(path: Path = paths.PR_REPORT_DIR / "verdict.json") -> str:
    """The report's verdict on the model against the last one (`mlops report`), or "none"."""
    try:
        return str(json.loads(path.read_text()).get("status", "none"))
    except (OSError, ValueError, AttributeError):
        return "none"


def model_version() -> tuple[str, str]:
    """The exported model's registered name and version: models/metadata.json, else models/training.json."""
    from mlops.io import read_json

    if paths.MODEL_METADATA.is_file():
        info = read_json(paths.MODEL_METADATA)
        return info["name"], str(info["version"])
    info = read_json(paths.TRAINING_INFO)
    return info["registered_model"], str(info["model_version"])


def local_record(event: str, environment: str, image: str, commit: str, reason: str = "") -> Record:
    """A record of the release whose pipeline output is in this folder (models/, dvc.lock, reports/)."""
    name, version = model_version()
    return Record(
        event=event,
        environment=environment,
        model=name,
        version=version,
        image=image,
        commit=commit,
        data=data_version(),
        verdict=verdict(),
        actor=actor(),
        reason=reason,
        run=run_url(),
    )


def commit_of_checkout() -> str:
    from mlops import tracking

    return os.environ.get("GITHUB_SHA") or tracking.git_commit()


# ---------------------------------------------------------------- writing


def write(record: Record, *, mlflow: bool, repo: str | None) -> tuple[Record, list[str]]:
    """Write the record (stamped with the time) to MLflow and/or GitHub; it, and where it went."""
    if record.event not in EVENTS:
        raise MlopsError(f"unknown event '{record.event}': one of {', '.join(EVENTS)}")
    record = dataclasses.replace(record, time=record.time or now())
    places = []
    if mlflow:
        places.append(write_mlflow(record))
    if repo:
        places.append(write_github(record, repo))
    return record, places


def tag_key(record: Record) -> str:
    stamp = record.time.replace("-", "").replace(":", "")
    environment = re.sub(r"[^\w.\- /]", "-", record.environment)  # the characters MLflow allows in a key
    return f"{RECORD_TAG}{stamp}.{record.event}.{environment}"


def write_mlflow(record: Record) -> str:
    from mlops import tracking

    mlflow = tracking.connect()
    client = mlflow.MlflowClient()
    tags = {tag_key(record): json.dumps(record.as_dict(), separators=(",", ":"))}
    if record.event == "publish":
        tags.update(
            {
                "mlops.image": record.image,
                "mlops.commit": record.commit,
                "mlops.data_version": record.data,
                "mlops.verdict": record.verdict,
            }
        )
    try:
        for key, value in tags.items():
            client.set_model_version_tag(record.model, record.version, key, value)
    except Exception as exc:
        raise MlopsError(
            f"could not tag {record.model} version {record.version} at {tracking.tracking_uri()}: {exc}"
        ) from exc
    return f"MLflow ({record.model} version {record.version})"


def tool(command: list[str], what: str, stdin: str | None = None) -> str:
    """Run a command line tool (gh, kubectl, ...): its output, or an error naming what failed and its last line."""
    try:
        done = subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=900)
    except FileNotFoundError:
        raise MlopsError(f"{command[0]} is not installed: it is needed to {what}") from None
    except subprocess.TimeoutExpired:
        raise MlopsError(f"could not {what}: {command[0]} did not finish within 900 s") from None
    if done.returncode != 0:
        lines = (done.stderr.strip() or done.stdout.strip() or f"exit status {done.returncode}").splitlines()
        raise MlopsError(f"could not {what}: {lines[-1]}")
    return done.stdout


def gh_api(path: str, body: dict | None = None, paginate: bool = False) -> list[Any]:
    """`gh api PATH` (POST with `body`): the JSON documents it printed (one a page with --paginate)."""
    command = ["gh", "api", path, *(["--method", "POST", "--input", "-"] if body is not None else [])]
    if paginate:
        command.append("--paginate")
    verb = "read" if body is None else "write"
    text = tool(command, f"{verb} GitHub's {path.split('?')[0]}", None if body is None else json.dumps(body))
    documents, at = [], 0
    decoder = json.JSONDecoder()
    while text[at:].strip():
        at += len(text[at:]) - len(text[at:].lstrip())
        document, at = decoder.raw_decode(text, at)
        documents.append(document)
    return documents


def write_github(record: Record, repo: str) -> str:
    if not re.fullmatch(r"[0-9a-f]{40}", record.commit):
        raise MlopsError(f"GitHub records a deployment of a commit: '{record.commit}' is not a full commit SHA")
    (deployment,) = gh_api(
        f"repos/{repo}/deployments",
        {
            "ref": record.commit,
            "task": TASK_PREFIX + record.event,
            "environment": record.environment,
            "description": record.summary(),
            "payload": record.as_dict(),
            "auto_merge": False,
            "required_contexts": [],  # the commit's checks passed before it was published
        },
    )
    status = {"state": record.state, "description": record.summary(), "environment": record.environment}
    if record.run:
        status["log_url"] = record.run
    gh_api(f"repos/{repo}/deployments/{deployment['id']}/statuses", status)
    return f"GitHub ({repo}: deployment {deployment['id']} to {record.environment})"


# ---------------------------------------------------------------- reading


def read_github(repo: str, environment: str) -> list[Record]:
    """The environment's records whose deployment succeeded (or, for a canary, was decided), oldest first."""
    query = urllib.parse.urlencode({"environment": environment, "per_page": 100})
    pages = gh_api(f"repos/{repo}/deployments?{query}", paginate=True)
    records = []
    for deployment in (item for page in pages for item in page):
        payload = deployment.get("payload")
        if not str(deployment.get("task", "")).startswith(TASK_PREFIX) or not isinstance(payload, dict):
            continue
        # A later deployment to the environment makes GitHub mark this one `inactive` (auto_inactive):
        # it happened if it ever had `success` (`failure`: a canary rolled back).
        (statuses,) = gh_api(f"repos/{repo}/deployments/{deployment['id']}/statuses?per_page=100")
        if any(status.get("state") in ("success", "failure") for status in statuses):
            records.append(Record.from_dict(payload))
    return sorted(records, key=lambda record: record.time)


def read_mlflow(model: str, environment: str) -> list[Record]:
    """The environment's records in the tags of the model's versions, oldest first."""
    from mlops import tracking

    mlflow = tracking.connect()
    try:
        versions = mlflow.MlflowClient().search_model_versions(f"name='{model}'")
    except Exception as exc:
        raise MlopsError(f"could not read the versions of {model} at {tracking.tracking_uri()}: {exc}") from exc
    records = [
        Record.from_dict(json.loads(value))
        for version in versions
        for key, value in version.tags.items()
        if key.startswith(RECORD_TAG)
    ]
    return sorted((r for r in records if r.environment == environment), key=lambda record: record.time)


def served(records: list[Record]) -> list[tuple[Record, str | None]]:
    """Each record after which another release served, with the time the next one took over (None: serving now)."""
    taking_over = [record for record in records if record.event in SERVING]
    following = [record.time for record in taking_over[1:]] + [None]
    return list(zip(taking_over, following, strict=True))


def timeline(records: list[Record]) -> list[tuple[Record, str | None]]:
    """`served`, with each canary decision at its time (a canary serves no environment alone: no "until")."""
    decided = [(record, None) for record in records if record.event == "canary"]
    return sorted(served(records) + decided, key=lambda entry: entry[0].time)


def published(image: str, repo: str | None, model: str) -> Record | None:
    """The publish record of an image: among GitHub's (with `repo`), else in the tags of the model's versions."""
    digest = check_image(image).partition("@")[2]
    if repo:
        found = [r for r in read_github(repo, RELEASE_ENVIRONMENT) if r.event == "publish" and r.digest == digest]
        if found:
            return found[-1]
    if os.environ.get("MLFLOW_TRACKING_URI"):
        found = [r for r in read_mlflow(model, RELEASE_ENVIRONMENT) if r.event == "publish" and r.digest == digest]
        if found:
            return found[-1]
    return None


def canary_details(decision: dict, stable: Record | None, stable_image: str) -> dict:
    """What a canary record keeps of `mlops canary check`'s decision file, and the stable release's identity."""
    try:
        signals = [{key: signal[key] for key in ("name", "ok", "figures")} for signal in decision["signals"]]
        kept = {key: decision[key] for key in CANARY_KEPT}
    except (KeyError, TypeError) as exc:
        raise MlopsError(f"not a decision of `mlops canary check` (no {exc}): give its --decision file") from None
    if kept["decision"] not in ("promote", "rollback"):
        raise MlopsError(f"the decision is '{kept['decision']}': `mlops canary check` decides promote or rollback")
    return {
        **kept,
        "signals": signals,
        "stable": {
            "image": stable_image,
            "digest": stable_image.partition("@")[2],
            "model": stable.model if stable else "unknown",
            "version": stable.version if stable else "unknown",
        },
    }


def canary_reason(details: dict) -> str:
    """One line: the decision, against which stable release, over which window, and the signals that failed."""
    stable = details["stable"]
    failed = [signal["name"] for signal in details["signals"] if not signal["ok"]]
    against = f"v{stable['version']} {stable['digest'][:19]}"
    if details["decision"] == "promote":
        return f"promoted over {against}: every signal held over {details['window']}"
    return f"rolled back, {against} serves on: {', '.join(failed) or 'the check failed'} over {details['window']}"


def find_release(repo: str, version: str | None = None, digest: str | None = None) -> Record:
    """The newest publish record of this version and/or digest; an error naming what was published otherwise."""
    published = [r for r in read_github(repo, RELEASE_ENVIRONMENT) if r.event == "publish"]
    matching = [
        record
        for record in published
        if (version is None or record.version == version) and (digest is None or record.digest == digest)
    ]
    asked = " and ".join(part for part in (version and f"version {version}", digest and f"digest {digest}") if part)
    if not matching:
        known = ", ".join(f"version {r.version} ({r.digest[:19]})" for r in published[-10:]) or "none"
        raise MlopsError(f"no published release has {asked} in {repo}'s records (the latest: {known})")
    digests = sorted({record.digest for record in matching})
    if len(digests) > 1:
        raise MlopsError(
            f"{asked} names {len(digests)} published images ({', '.join(d[:19] for d in digests)}): "
            "give --digest (without a tracking server every model is version 1)"
        )
    return matching[-1]
