"""Which job, on which event and branch, can see which secret: read from the workflow files.

GitHub's rules, applied to the files as GitHub applies them:

- a job sees a secret only through an expression naming it (``secrets.X``) in its ``env``, a
  step's ``env`` or ``with``, or the ``secrets`` a reusable-workflow call passes on; a step or
  job whose ``if:`` is false for the event evaluates none of its expressions;
- a repository secret reaches every run of every branch whose workflow file names it (the
  branch's own file: whoever can push a branch can name any of them);
- an environment's secret reaches only a job that names the environment, and only when the
  run's ref passes the environment's deployment branch rule; a job naming an environment its
  ref does not pass is refused before it starts. In a called workflow, a job's environment
  secret wins over what the caller passed (GitHub's documented rule);
- a pull request from a fork gets no secret at all.

Where each secret is kept comes from docs/workflows.md's secrets table (the set-up the user
follows), and every environment there is limited to the default branch. A file can hold
more than the shipped workflows: `WORKFLOWS_DIR` points the tests at another folder, e.g.
the workflows of an older commit, to show what they let through.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO_ROOT as ROOT
from tests.workflow.github_expressions import EXPRESSION, condition, expressions, render, secret_flows

WORKFLOWS = Path(os.environ.get("WORKFLOWS_DIR") or ROOT / ".github/workflows")
DEFAULT = "main"

# Credentials that write: the DVC remote and its run-cache, the tracking server and registry,
# a branch and pull request of the repository, a cluster.
WRITE = {
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "MLFLOW_TRACKING_USERNAME",
    "MLFLOW_TRACKING_PASSWORD",
    "MLFLOW_TRACKING_TOKEN",
    "RETRAIN_PR_TOKEN",
    "KUBECONFIG",
}
READ = {"AWS_READ_ACCESS_KEY_ID", "AWS_READ_SECRET_ACCESS_KEY"}
MLFLOW = {"MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN"}
STORAGE = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}


STATUS_FUNCTION = re.compile(r"\b(always|success|failure|cancelled)\(\)")


def settings() -> dict[str, str]:
    """Secret name -> where docs/workflows.md keeps it: 'repository' or an environment's name."""
    homes = {}
    for line in (ROOT / "docs/workflows.md").read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[1].startswith("secret"):
            continue
        names = re.findall(r"`([A-Z][A-Z0-9_]+)`", cells[0])
        environments = re.findall(r"`([a-z][\w-]*)`", cells[2])
        for name in names:
            homes[name] = "repository" if cells[2].startswith("repository") else "|".join(environments)
    return homes


def load(name: str) -> dict:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    data["on"] = data.pop(True, data.get("on"))
    return data


def context(event: str, ref: str, inputs: dict | None = None) -> dict:
    """What a file can know of a run: the event, the ref, the default branch, the inputs."""
    return {
        "github": {
            "event_name": event,
            "ref": ref,
            "ref_name": ref.split("/", 2)[2],  # refs/heads/main: main; refs/pull/7/merge: 7/merge
            "event": {"repository": {"default_branch": DEFAULT}},
        },
        "inputs": inputs or {},
    }


def named(value, ctx) -> set[str]:
    """Secrets whose value reaches this value: in every `${{ }}` of every string inside it."""
    if isinstance(value, dict):
        return set().union(*(named(v, ctx) for k, v in value.items() if k != "if"), set())
    if isinstance(value, list):
        return set().union(*(named(v, ctx) for v in value), set())
    if isinstance(value, str):
        return set().union(*(secret_flows(tree) for tree in expressions(value)), set())
    return set()


def job_references(job: dict, ctx: dict) -> set[str]:
    """The secrets a job's expressions name, leaving out steps whose `if:` is false here."""
    outside_steps = {key: value for key, value in job.items() if key not in ("steps", "if", "secrets", "with")}
    found = named(outside_steps, ctx)
    for step in job.get("steps", []):
        if condition(step.get("if"), ctx) is not False:
            found |= named(step, ctx)
    return found


def resolve(names: set[str], environment: str | None, homes: dict[str, str]) -> set[str]:
    """What GitHub hands over for these names to a job in `environment` (already allowed)."""
    if "*" in names:
        names = set(homes)
    return {
        name
        for name in names
        if homes.get(name) == "repository" or (environment and environment in homes.get(name, "").split("|"))
    }


def environment_of(job: dict, ctx: dict) -> str | None:
    value = job.get("environment")
    if isinstance(value, dict):
        value = value.get("name")
    if value is None:
        return None
    rendered = render(str(value), ctx)
    assert isinstance(rendered, str), f"an environment this test cannot name: {value}"
    return rendered or None


def allowed(environment: str, ref: str) -> bool:
    """Every environment of the set-up is limited to the default branch (docs/workflows.md)."""
    return ref == f"refs/heads/{DEFAULT}"


def visible(
    workflow: str, event: str, ref: str, fork: bool = False, inputs: dict | None = None, homes: dict | None = None
) -> dict:
    """Job -> the secrets it sees in such a run ("refused" if its environment refuses the ref).

    Jobs whose `if:` is false, or that need a job that does not run, are left out. A called
    workflow's jobs are named `caller/called`.
    """
    data = load(workflow)
    # GitHub fills a dispatch's inputs that were not given with their defaults.
    declared = ((data["on"] or {}).get("workflow_dispatch") or {}).get("inputs") or {}
    given = {name: spec.get("default", "") for name, spec in declared.items()} if event == "workflow_dispatch" else {}
    homes, ctx = homes or settings(), context(event, ref, {**given, **(inputs or {})})
    seen: dict[str, object] = {}

    def walk(data: dict, prefix: str, passed: dict[str, set[str]] | None) -> None:
        running: set[str] = set()
        for job_id, job in data["jobs"].items():
            needs = job.get("needs", [])
            needs = [needs] if isinstance(needs, str) else needs
            # A job runs only when the jobs it needs ran, unless its `if:` asks with a status function.
            waits = not STATUS_FUNCTION.search(str(job.get("if", "")))
            if condition(job.get("if"), ctx) is False or (waits and any(need not in running for need in needs)):
                continue
            running.add(job_id)
            key = prefix + job_id
            environment = environment_of(job, ctx)
            if environment and not allowed(environment, ref):
                seen[key] = "refused"
                continue
            if fork:
                seen[key] = set()
            elif passed is None:
                seen[key] = resolve(job_references(job, ctx), environment, homes)
            else:  # a called workflow: what the caller passed, unless the environment has its own
                names = job_references(job, ctx)
                own = resolve(names, environment, homes) if environment else set()
                handed = set().union(*(passed.get(n, set()) for n in names if n not in own), set())
                seen[key] = own | handed
            if "uses" in job and job["uses"].startswith("./.github/workflows/"):
                called = load(Path(job["uses"]).name)
                secrets = job.get("secrets") or {}
                if secrets == "inherit":
                    to_pass = {name: resolve({name}, environment, homes) for name in homes}
                else:
                    to_pass = {name: resolve(named(value, ctx), environment, homes) for name, value in secrets.items()}
                seen[key] = set().union(*to_pass.values(), set()) if not fork else set()
                walk(called, f"{job_id}/", {} if fork else to_pass)

    walk(data, "", None)
    return seen


MAIN, BRANCH, PULL = f"refs/heads/{DEFAULT}", "refs/heads/feature", "refs/pull/7/merge"

# (workflow, event, ref, from a fork, inputs) -> job -> what it sees. Jobs not listed do not run.
EXPECTED = {
    ("train.yml", "push", BRANCH, False, None): {"validate": READ, "pipeline": READ},
    ("train.yml", "pull_request", PULL, False, None): {"validate": READ, "pipeline": READ},
    ("train.yml", "pull_request", PULL, True, None): {"validate": set(), "pipeline": set()},
    ("train.yml", "workflow_dispatch", BRANCH, False, None): {"validate": READ, "pipeline": READ},
    ("train.yml", "push", MAIN, False, None): {
        "validate": READ,
        "pipeline-release": STORAGE | MLFLOW,
        "publish": set(),
        "publish/image": MLFLOW,
    },
    ("train.yml", "workflow_dispatch", MAIN, False, None): {
        "validate": READ,
        "pipeline-release": STORAGE | MLFLOW,
        "publish": set(),
        "publish/image": MLFLOW,
    },
    ("monitor.yml", "schedule", MAIN, False, None): {
        "detect": READ,
        "issue": set(),
        "data": STORAGE | {"RETRAIN_PR_TOKEN"},
        "retrain": set(),
    },
    ("monitor.yml", "workflow_dispatch", BRANCH, False, None): {"detect": READ, "issue": set(), "retrain": set()},
    ("deploy.yml", "workflow_dispatch", MAIN, False, (("environment", "staging"),)): {
        "deploy": {"KUBECONFIG"} | MLFLOW
    },
    ("deploy.yml", "workflow_dispatch", MAIN, False, (("environment", "production"),)): {
        "deploy": {"KUBECONFIG"} | MLFLOW
    },
    ("deploy.yml", "workflow_dispatch", MAIN, False, (("environment", "production"), ("version", "6"))): {
        "release": set(),
        "deploy": {"KUBECONFIG"} | MLFLOW,
    },
    ("deploy.yml", "workflow_dispatch", BRANCH, False, (("environment", "production"),)): {"deploy": "refused"},
    ("pr-report.yml", "workflow_run", MAIN, False, None): {"comment": set()},
    ("ci.yml", "push", BRANCH, False, None): {"lint": set(), "test": set()},
    ("ci.yml", "pull_request", PULL, True, None): {"lint": set(), "test": set()},
    ("full-tests.yml", "push", MAIN, False, None): {"test": set()},
    ("full-tests.yml", "schedule", MAIN, False, None): {"test": set()},
    ("full-tests.yml", "workflow_dispatch", BRANCH, False, None): {"test": set()},
}


@pytest.mark.parametrize(
    "run", list(EXPECTED), ids=lambda r: f"{r[0]}-{r[1]}-{r[2].split('/')[-1]}{'-fork' if r[3] else ''}"
)
def test_which_job_sees_which_secret(run):
    workflow, event, ref, fork, inputs = run
    assert visible(workflow, event, ref, fork, dict(inputs or ())) == EXPECTED[run]


@pytest.mark.parametrize(
    "run",
    [r for r in EXPECTED if r[2] != MAIN],
    ids=lambda r: f"{r[0]}-{r[1]}-{r[2].split('/')[-1]}{'-fork' if r[3] else ''}",
)
def test_no_branch_or_pull_request_job_gets_a_write_credential_even_if_it_is_a_repository_secret(run):
    """The set-up of before (every secret in the repository): the files still hand none to a branch's job."""
    workflow, event, ref, fork, inputs = run
    everything_in_the_repository = dict.fromkeys(settings(), "repository")
    seen = visible(workflow, event, ref, fork, dict(inputs or ()), homes=everything_in_the_repository)
    for job, secrets in seen.items():
        assert secrets == "refused" or not secrets & WRITE, f"{workflow} job {job} on {event} {ref}: {secrets & WRITE}"


def test_every_workflow_and_trigger_is_in_the_table():
    covered = {(workflow, event) for workflow, event, *_ in EXPECTED}
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for event in load(path.name)["on"]:
            if event != "workflow_call":  # publish.yml runs as train.yml's job `publish`
                assert (path.name, event) in covered, f"{path.name} on {event} is not in EXPECTED"


def test_write_credentials_reach_only_jobs_in_an_environment_limited_to_the_default_branch():
    """Whatever the event: a job that names a write credential runs in a protected environment."""
    homes = settings()
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for job_id, job in load(path.name)["jobs"].items():
            ctx = context("push", "refs/heads/any")  # no step left out: every `if:` may hold
            ctx["github"] = {}
            names = job_references(job, ctx) | named(job.get("secrets") or {}, ctx)
            if job.get("secrets") == "inherit" or "*" in names:
                names = set(homes)
            environment = job.get("environment")
            for name in sorted(names & WRITE):
                assert environment, f"{path.name}: job {job_id} names {name} outside an environment"
                if "${{" in str(environment):  # deploy.yml: each of its choices
                    continue
                assert homes.get(name) and environment in homes[name].split("|"), (
                    f"{path.name}: job {job_id} in {environment!r} names {name}, kept in {homes.get(name)!r}"
                )


def test_the_set_up_keeps_every_write_credential_in_an_environment_and_the_rest_read_only():
    homes = settings()
    assert set(homes) >= WRITE, f"docs/workflows.md does not say where {sorted(WRITE - set(homes))} go"
    for name in WRITE:
        assert homes[name] != "repository", f"docs/workflows.md keeps the write credential {name} in the repository"
    assert {name for name, home in homes.items() if home == "repository"} == READ
    text = (ROOT / "docs/workflows.md").read_text()
    for environment in {env for home in homes.values() if home != "repository" for env in home.split("|")}:
        assert f"`{environment}`" in text
    assert "Deployment branches and tags" in text and "the default branch" in text


# ---------------------------------------------------------------- the guard in train.yml


def guard_step() -> dict:
    (step,) = [
        s for s in load("train.yml")["jobs"]["validate"]["steps"] if s.get("name", "").startswith("Refuse write")
    ]
    return step


def test_the_guard_names_every_write_credential_a_training_run_uses_and_reveals_none():
    step = guard_step()
    checked = set(re.findall(r"secrets\.([A-Z0-9_]+) != ''", step["env"]["REACHABLE"]))
    assert checked == WRITE - {"KUBECONFIG"}  # deploy's cluster credential lives in deploy's environments
    assert secret_flows_of(step["env"]["REACHABLE"]) == set()
    ctx = context("push", MAIN)
    assert condition(step["if"], ctx) is False  # on the default branch the write credentials are there, in `release`
    assert condition(step["if"], context("push", BRANCH)) is True


def secret_flows_of(text: str) -> set[str]:
    return set().union(*(secret_flows(tree) for tree in expressions(text)), set())


@pytest.mark.parametrize(
    ("reachable", "code"), [("", 0), ("AWS_SECRET_ACCESS_KEY RETRAIN_PR_TOKEN ", 1)], ids=["none", "two"]
)
def test_the_guard_stops_a_branch_run_that_can_read_write_credentials(reachable, code):
    done = subprocess.run(
        ["bash", "-e", "-c", guard_step()["run"]],
        env={"PATH": os.environ["PATH"], "REACHABLE": reachable},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == code
    if code:
        assert (
            "::error::Write credentials are repository secrets, which a branch's own workflow file can read: "
            "AWS_SECRET_ACCESS_KEY RETRAIN_PR_TOKEN. Move them to the environment 'release'" in done.stdout
        )


def test_expressions_this_file_relies_on():
    ctx = context("push", MAIN)
    assert condition("github.ref == format('refs/heads/{0}', github.event.repository.default_branch)", ctx) is True
    assert condition("${{ github.event_name != 'pull_request' && github.ref_name == 'MAIN' }}", ctx) is True
    assert condition("needs.detect.outputs.build == 'true' && github.ref == 'refs/heads/x'", ctx) is False
    assert condition("needs.detect.outputs.build == 'true'", ctx) is None
    assert secret_flows_of("${{ secrets.A || github.token }}") == {"A"}
    assert secret_flows_of("${{ toJSON(secrets) }}") == {"*"}
    assert secret_flows_of("${{ secrets[format('{0}', env.X)] }}") == {"*"}
    assert secret_flows_of("${{ secrets.A != '' && 'A' || '' }}${{ contains(secrets.B, 'x') }}") == set()
    assert EXPRESSION.findall("a ${{ b }} c ${{ d }}") == [" b ", " d "]
