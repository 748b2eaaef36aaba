"""monitor.yml run by the Actions engine on a drifted batch: one `drift` issue, and retraining starts."""

from __future__ import annotations

import pytest

from mlops.config import load_params

pytestmark = [pytest.mark.slow, pytest.mark.container]


def first_feature(folder) -> str:
    from mlops.pipeline.ingest import load_source

    params = load_params(folder / "params.yaml")
    frame = load_source(params.data.source, params.data.target)
    return next(column for column in frame.columns if column != params.data.target)


def drift_issues(world) -> list[dict]:
    return [i for i in world.state.issues.values() if "drift" in {label["name"] for label in i["labels"]}]


def test_6_drift_opens_one_issue_updates_it_next_time_and_the_dispatched_training_goes_green(world):
    sha = world.git("rev-parse", "origin/main")
    payload = {"inputs": {"shift": f"{first_feature(world.dev)}=3"}, "repository": world.repository_json()}

    monitor = world.run("monitor.yml", "workflow_dispatch", payload, sha, "main")

    assert monitor.conclusion == "success", monitor.explain()
    assert monitor.jobs() == {"detect": "success", "issue": "success", "retrain": "success"}
    (issue,) = drift_issues(world)
    assert issue["state"] == "open" and "Drift" in issue["title"]
    assert [d["workflow"] for d in world.state.dispatches] == ["train.yml"]

    (train,) = world.dispatch_pending()
    assert train.conclusion == "success", train.explain()
    assert set(train.jobs()) == {"validate", "pipeline", "image"}

    again = world.run("monitor.yml", "workflow_dispatch", payload, sha, "main")
    assert again.conclusion == "success", again.explain()
    (same,) = drift_issues(world)
    assert same["number"] == issue["number"]
    assert [c["body"] for c in world.state.comments_on(issue["number"])][-1].startswith("Drift found again")
