"""The canary: its pods beside the stable release (deploy/k8s), KServe's patch, deploy.yml's
steps, and `mlops canary check` deciding against a REAL Prometheus that scrapes real services.

The slow test runs five gunicorn services of this repository on loopback: the stable release,
one as good (the same model), and three deliberately worse (tests/deploy/canary_faults.py: one
slower, one failing every fifth request; and a model trained on skewed labels, whose
prediction mix differs). One Prometheus scrapes them every second; the check must roll back each
worse one and promote the one as good.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from mlops import http
from mlops.cli import main
from mlops.config import CanaryParams
from mlops.release.canary import PREDICTION_ROUTES, Figures, canary_replicas, signals
from tests import factories
from tests.conftest import REPO_ROOT
from tests.deploy.conftest import IMAGE, K8S, OVERLAYS, by_kind, one, render
from tests.deploy.kubectl import kubectl_stand_in
from tests.deploy.test_deploy_workflow import job, run_step, step

CANARY_IMAGE = "ghcr.io/example-org/example-model@sha256:" + "fedcba9876543210" * 4
LIMITS = CanaryParams()
VENV_BIN = str(Path(sys.executable).parent)  # `mlops` for the workflow's steps


# ---------------------------------------------------------------- the decision, from figures


def judged(stable: Figures, canary: Figures, limits: CanaryParams = LIMITS) -> dict[str, bool]:
    return {signal.name: signal.ok for signal in signals(stable, canary, limits)}


STABLE = Figures(requests=1000, errors=0, p99=0.004, mix={"a": 600, "b": 400})


def test_a_canary_that_does_what_the_stable_release_does_passes_every_signal():
    assert judged(STABLE, STABLE) == {
        "traffic": True,
        "server errors": True,
        "p99 latency": True,
        "prediction mix": True,
    }


@pytest.mark.parametrize(
    "canary, failed",
    [
        (Figures(99, 0, 0.004, {"a": 60, "b": 40}), "traffic"),
        (Figures(1000, 11, 0.004, {"a": 600, "b": 400}), "server errors"),  # 1.1 points more
        (Figures(1000, 0, 0.032, {"a": 600, "b": 400}), "p99 latency"),  # 8x, 28 ms more
        (Figures(1000, 0, 0.004, {"a": 490, "b": 510}), "prediction mix"),  # a: 11 points fewer
        (Figures(1000, 0, 0.004, {"a": 600, "b": 300, "c": 101}), "prediction mix"),  # a class the stable never says
    ],
)
def test_each_signal_rolls_back_past_its_limit(canary, failed):
    assert {name for name, ok in judged(STABLE, canary).items() if not ok} == {failed}


@pytest.mark.parametrize(
    "canary",
    [
        Figures(100, 1, 0.004, {"a": 60, "b": 40}),  # exactly the least traffic; 1 point more errors
        Figures(1000, 0, 0.028, {"a": 600, "b": 400}),  # 7x slower, yet only 24 ms more
        Figures(1000, 0, 0.0059, {"a": 600, "b": 400}),  # 1.5x slower: only 1.9 ms more
        Figures(1000, 0, 0.004, {"a": 500, "b": 500}),  # a: 10 points fewer
    ],
)
def test_a_figure_at_its_limit_still_promotes(canary):
    assert all(judged(STABLE, canary).values()), judged(STABLE, canary)


def test_without_requests_or_predictions_nothing_passes_but_the_line_says_why():
    lines = [signal.line() for signal in signals(STABLE, Figures(0, 0, None, {}), LIMITS)]
    assert lines == [
        "  traffic         canary 0 prediction requests, stable 1,000 (at least 100 each): ROLL BACK",
        "  server errors   no requests to count them in: ROLL BACK",
        "  p99 latency     no request durations to take it from: ROLL BACK",
        "  prediction mix  no predictions counted: ROLL BACK",
    ]


def test_a_regression_models_mean_prediction_moves_within_a_tenth_of_the_stables_range():
    stable = Figures(1000, 0, 0.004, values=(50.0, 20.0, 80.0))  # mean 50, 10-90% from 20 to 80
    assert judged(stable, Figures(1000, 0, 0.004, values=(56.0, 30.0, 90.0)))["prediction mix"]  # 6 of 60
    assert not judged(stable, Figures(1000, 0, 0.004, values=(43.9, 20.0, 80.0)))["prediction mix"]  # 6.1 of 60
    (line,) = [s.line() for s in signals(stable, Figures(1000, 0, 0.004, values=(62.0, 1, 2)), LIMITS)][-1:]
    assert line == (
        "  prediction mix  mean prediction canary 62, stable 50: 20% of the stable's 10-90% range 20 to 80 "
        "(at most 10%): ROLL BACK"
    )


@pytest.mark.parametrize("stable, percent, canary", [(3, 10, 1), (20, 10, 2), (9, 50, 9), (1, 10, 1), (18, 25, 6)])
def test_the_canary_gets_pods_in_proportion_to_its_share(stable, percent, canary):
    assert canary_replicas(stable, percent) == canary


def test_the_commands_read_params_yaml(tmp_path, capsys):
    params = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    params["canary"]["percent"] = 20
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    given = ["--params", str(tmp_path / "params.yaml")]
    outputs = []
    for argv in (
        ["replicas", "8"],
        ["kserve-patch", "start"],
        ["kserve-patch", "promote"],
        ["kserve-patch", "rollback"],
    ):
        assert main(["canary", *argv, *given]) == 0
        outputs.append(capsys.readouterr().out.strip())
    assert outputs[0] == "2"
    assert [json.loads(out)["spec"]["predictor"]["canaryTrafficPercent"] for out in outputs[1:]] == [20, 100, 0]


def test_the_canary_commands_read_only_their_section(tmp_path, capsys):
    """No train section needed (nor scikit-learn to check an estimator); a bad canary key is named."""
    (tmp_path / "params.yaml").write_text("canary: {percent: 25}\n")
    assert main(["canary", "replicas", "3", "--params", str(tmp_path / "params.yaml")]) == 0
    assert capsys.readouterr().out == "1\n"
    (tmp_path / "params.yaml").write_text("canary: {window: ten minutes}\n")
    assert main(["canary", "wait", "--params", str(tmp_path / "params.yaml")]) == 1
    assert "params.yaml: canary.window: String should match pattern" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["check", "--prometheus", ""], "pass --prometheus URL or set PROMETHEUS_URL"),
        (["check", "--prometheus", "http://127.0.0.1:9", "--window", "ten minutes"], "not a duration"),
        (["check", "--prometheus", "http://127.0.0.1:9"], "Prometheus at http://127.0.0.1:9 did not answer"),
        (["replicas", "0"], "the stable release has 0 pods"),
    ],
)
def test_bad_input_is_one_line_and_exit_1(argv, message, capsys, tmp_path):
    decision = ["--decision", str(tmp_path / "decision.json")] if argv[0] == "check" else []
    assert main(["canary", *argv, *decision, "--params", str(REPO_ROOT / "params.yaml")]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("mlops canary: error: ") and message in line
    assert not (tmp_path / "decision.json").exists()  # no decision without the figures


def test_the_prediction_routes_are_the_services_post_routes(service_app):
    rules = list(service_app.url_map.iter_rules())
    posts = {rule.rule for rule in rules if "POST" in rule.methods}
    assert posts and all(re.fullmatch(PREDICTION_ROUTES, route) for route in posts)
    assert not [
        rule.rule for rule in rules if "POST" not in rule.methods and re.fullmatch(PREDICTION_ROUTES, rule.rule)
    ]


@pytest.mark.slow
def test_the_kserve_patch_fits_kserves_own_model_of_the_inference_service(kserve_python, tmp_path, capsys):
    from tests.deploy.test_kserve import check, inference_service

    assert main(["canary", "kserve-patch", "start", "--params", str(REPO_ROOT / "params.yaml")]) == 0
    patch = json.loads(capsys.readouterr().out)
    service = inference_service()
    service["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] = "Serverless"  # where KServe splits
    service["spec"]["predictor"].update(patch["spec"]["predictor"])
    manifest = tmp_path / "canary.yaml"
    manifest.write_text(yaml.safe_dump(service))
    result = check(kserve_python, manifest)  # it refuses a field KServe does not know (test_kserve.py)
    assert result.returncode == 0, result.stdout + result.stderr
    assert service["spec"]["predictor"]["canaryTrafficPercent"] == LIMITS.percent


# ---------------------------------------------------------------- the canary Deployment (deploy/k8s)


def render_canary(overlay: str, replicas: int = 2) -> list[dict]:
    result = subprocess.run(
        [K8S / "render", overlay, IMAGE, CANARY_IMAGE, str(replicas)], capture_output=True, text=True, check=True
    )
    return [document for document in yaml.safe_load_all(result.stdout) if document]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_canary_is_the_overlays_deployment_on_its_own_pods_behind_the_same_service(overlay):
    documents = render_canary(overlay, 2)
    alone = render(overlay)
    stable, canary = sorted(by_kind(documents, "Deployment"), key=lambda d: d["metadata"]["name"])
    assert [stable["metadata"]["name"], canary["metadata"]["name"]] == ["mlops-serving", "mlops-serving-canary"]
    # Nothing else is doubled: the stable release's objects as they are, plus one Deployment.
    assert [d for d in documents if d is not canary] == alone
    assert canary["spec"]["replicas"] == 2
    (container,) = canary["spec"]["template"]["spec"]["containers"]
    assert container["image"] == CANARY_IMAGE
    # The same pods otherwise: resources, probes, security, the ServiceAccount.
    assert {**container, "image": IMAGE} == stable["spec"]["template"]["spec"]["containers"][0]
    assert canary["metadata"]["namespace"] == stable["metadata"]["namespace"]

    def labels(deployment):
        return deployment["spec"]["template"]["metadata"]["labels"]

    def selects(selector: dict, deployment) -> bool:
        return selector.items() <= labels(deployment).items()

    assert labels(stable)["track"] == "stable" and labels(canary)["track"] == "canary"
    service = one(documents, "Service")["spec"]["selector"]
    assert selects(service, stable) and selects(service, canary)
    assert selects(stable["spec"]["selector"]["matchLabels"], stable)
    assert not selects(stable["spec"]["selector"]["matchLabels"], canary)  # the HPA counts stable pods only
    assert selects(canary["spec"]["selector"]["matchLabels"], canary)
    assert not selects(canary["spec"]["selector"]["matchLabels"], stable)
    assert one(documents, "HorizontalPodAutoscaler")["spec"]["scaleTargetRef"]["name"] == "mlops-serving"
    assert selects(one(documents, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"], canary)
    for monitor in by_kind(documents, "ServiceMonitor"):  # the series carry the track the check compares
        assert monitor["spec"]["podTargetLabels"] == ["track"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_canary_validates_strictly(overlay, tmp_path):
    from tests.deploy.test_k8s import VERSIONS

    manifest = tmp_path / "canary.yaml"
    command = [K8S / "render", overlay, IMAGE, CANARY_IMAGE, "1"]
    manifest.write_text(subprocess.run(command, capture_output=True, text=True, check=True).stdout)
    result = subprocess.run(
        [sys.executable, "-m", "kubernetes_validate", "--strict", "-k", VERSIONS[-1], str(manifest)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"passed for resource deployment/mlops-serving-canary against version {VERSIONS[-1]}" in result.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        ([IMAGE, CANARY_IMAGE, "0"], "canary replicas '0'"),
        ([IMAGE, CANARY_IMAGE, "two"], "canary replicas 'two'"),
        ([IMAGE, "ghcr.io/example-org/example-model:new", "1"], "not NAME@sha256:"),
        ([IMAGE, CANARY_IMAGE], "usage:"),
    ],
)
def test_render_refuses_a_bad_canary(args, message):
    result = subprocess.run([K8S / "render", "staging", *args], capture_output=True, text=True)
    assert result.returncode == 2 and message in result.stderr and result.stdout == ""


# ---------------------------------------------------------------- deploy.yml's canary steps (kubectl stand-in)


@pytest.fixture
def kubectl(tmp_path):
    return kubectl_stand_in(tmp_path)


def test_without_a_prometheus_url_the_release_takes_all_the_traffic_as_before(tmp_path, kubectl):
    result, outputs = run_step(step("Start the canary"), tmp_path, {**kubectl, "OVERLAY": "staging", "IMAGE": IMAGE})
    assert result.returncode == 0 and outputs == {}
    assert "::notice::No PROMETHEUS_URL variable: no canary" in result.stdout
    assert list(Path(kubectl["KUBECTL_RECORD"]).iterdir()) == []


def test_with_nothing_serving_yet_there_is_no_canary(tmp_path, kubectl):
    env = {**kubectl, "OVERLAY": "staging", "IMAGE": IMAGE, "PROMETHEUS_URL": "http://127.0.0.1:9", "KUBECTL_LIVE": ""}
    result, outputs = run_step(step("Start the canary"), tmp_path, env)
    assert result.returncode == 0 and outputs == {}
    assert "No other release serves in mlops-staging" in result.stdout
    record = Path(kubectl["KUBECTL_RECORD"])
    assert (record / "0.args").read_text().split()[:3] == ["get", "deployment", "mlops-serving"]
    assert not (record / "1.args").exists()


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_canary_starts_beside_the_image_the_cluster_serves(overlay, tmp_path, kubectl):
    env = {
        **kubectl,
        "OVERLAY": overlay,
        "IMAGE": CANARY_IMAGE,
        "PROMETHEUS_URL": "http://127.0.0.1:9",
        "KUBECTL_LIVE": f"{IMAGE} 3",
        "PATH": f"{VENV_BIN}{os.pathsep}{kubectl['PATH']}",
    }
    result, outputs = run_step(step("Start the canary"), tmp_path, env)
    assert result.returncode == 0, result.stdout + result.stderr
    namespace = one(render(overlay), "Namespace")["metadata"]["name"]
    assert outputs == {"namespace": namespace, "stable": IMAGE, "started": "true"}
    record = Path(kubectl["KUBECTL_RECORD"])
    assert (record / "1.args").read_text().split()[:2] == ["apply", "-f"]
    applied = [doc for doc in yaml.safe_load_all((record / "1.yaml").read_text()) if doc]
    assert applied == render_canary(overlay, canary_replicas(3, LIMITS.percent))
    args = (record / "2.args").read_text().split()
    assert args[:3] == ["rollout", "status", "deployment/mlops-serving-canary"] and namespace in args


def test_a_check_that_cannot_decide_rolls_back(tmp_path):
    env = {
        "NAMESPACE": "mlops-staging",
        "PROMETHEUS_URL": "http://127.0.0.1:9",
        "PATH": f"{VENV_BIN}:{os.environ['PATH']}",
    }
    result, outputs = run_step(step("Check the canary"), tmp_path, env)
    assert result.returncode == 0, result.stderr
    assert outputs == {"decision": "rollback"}
    assert "::error::The canary check could not decide (exit 1)" in result.stdout


def test_a_check_that_decided_nothing_has_no_decision_to_record_and_says_so(tmp_path):
    record = step("Record the canary's decision")
    assert record["if"].endswith("steps.check.outputs.decision != ''")  # after every check that ran
    env = {"OVERLAY": "staging", "IMAGE": CANARY_IMAGE, "STABLE": IMAGE, "GITHUB_REPOSITORY": "example/repo"}
    result, _ = run_step(record, tmp_path, {**env, "PATH": f"{tmp_path}/no-mlops:/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    assert "::warning::The canary check decided nothing" in result.stdout and result.stderr == ""


def test_a_rolled_back_canary_is_deleted_and_the_job_stops_before_the_promotion(tmp_path, kubectl):
    rollback = step("Roll the canary back")
    assert "failure()" in rollback["if"] and "steps.check.outputs.decision != 'promote'" in rollback["if"]
    result, _ = run_step(rollback, tmp_path, {**kubectl, "NAMESPACE": "mlops-staging", "DECISION": "rollback"})
    assert result.returncode == 1
    args = (Path(kubectl["KUBECTL_RECORD"]) / "0.args").read_text().split()
    assert args[:3] == ["delete", "deployment", "mlops-serving-canary"] and "mlops-staging" in args
    names = [s.get("name", "") for s in job()["steps"]]
    order = [next(i for i, name in enumerate(names) if name.startswith(start)) for start in (
        "Start the canary", "Let the canary serve", "Check the canary", "Record the canary's decision",
        "Roll the canary back",
        "Apply the overlay", "Wait for the rollout", "Remove the canary",
    )]  # fmt: skip
    assert order == sorted(order)
    assert step("Remove the canary")["if"].endswith(" && always()")  # after a failed promotion too


# ---------------------------------------------------------------- a real Prometheus, real services


def skewed_labels():
    """The serving tests' synthetic data with four in five labels turned to 'high': a model trained
    on it predicts 'high' far more often than the stable one does for the same rows."""
    from tests.serving.conftest import TARGET

    frame = factories.classification()
    rng = np.random.default_rng(3)
    frame[TARGET] = np.where(rng.random(len(frame)) < 0.8, "high", frame[TARGET])
    return frame


REQUESTS = 40  # per service; the check's min_requests is set to 30 below


@pytest.mark.slow
@pytest.mark.skipif(not shutil.which("prometheus"), reason="prometheus not found: apt-get install prometheus")
def test_the_check_rolls_back_each_worse_canary_and_promotes_one_as_good(deploy_project, tmp_path, capsys):
    from tests.monitoring.test_prometheus import query, running_prometheus, wait_for
    from tests.serving.conftest import TARGET, Server, build_project, to_records

    projects = {name: tmp_path / name for name in ("skewed", "regression", "regression-shifted")}
    for root in projects.values():
        root.mkdir()
    build_project(projects["skewed"], data=skewed_labels())
    values = factories.regression()
    build_project(projects["regression"], data=values, task="regression")
    # A regression model predicting 50 more (about 30% of the first one's 10-90% range).
    build_project(
        projects["regression-shifted"], data=values.assign(**{TARGET: values[TARGET] + 50}), task="regression"
    )
    stable_project = deploy_project
    capsys.readouterr()  # the builds' own lines
    faulty = {"app": "tests.deploy.canary_faults:create_app()", "PYTHONPATH": str(REPO_ROOT)}
    kinds = {
        "stable": (stable_project, {}),
        "good": (stable_project, {}),
        "slow": (stable_project, {**faulty, "CANARY_FAULT_DELAY": "0.25"}),
        # 5, prime to the 12 batches of rows: the failures fall on different batches, the mix stays the stable's.
        "errors": (stable_project, {**faulty, "CANARY_FAULT_ERROR_EVERY": "5"}),
        "skewed": (projects["skewed"], {}),
        "regression": (projects["regression"], {}),
        "regression-shifted": (projects["regression-shifted"], {}),
    }
    servers = {}
    try:
        for name, (project, env) in kinds.items():
            (tmp_path / name).mkdir(exist_ok=True)
            servers[name] = Server(project / "models", tmp_path / name, workers=1, **env)
        for server in servers.values():
            server.wait_ready()

        def target(name: str) -> str:
            return servers[name].url.removeprefix("http://")

        jobs = [
            {
                "job_name": "services",
                "static_configs": [{"targets": [target(name)], "labels": {"track": name}} for name in kinds],
            },
            # As deploy.yml's check step selects them: namespace and track, stable or canary.
            *(
                {
                    "job_name": f"deploy-{canary}",
                    "static_configs": [
                        {"targets": [target("stable")], "labels": {"namespace": canary, "track": "stable"}},
                        {"targets": [target(canary)], "labels": {"namespace": canary, "track": "canary"}},
                    ],
                }
                for canary in ("good", "errors")
            ),
        ]
        (tmp_path / "prometheus").mkdir()
        with running_prometheus(tmp_path / "prometheus", "", jobs) as api:

            def batches_of(project: Path) -> list[list[dict]]:
                rows = to_records(pd.read_parquet(project / "data/prepared/test.parquet"))
                return [rows[i : i + 5] for i in range(0, len(rows), 5)]

            # The same requests to every classifier (the stable's test rows), and to both regression models.
            rows = {"classification": batches_of(stable_project), "regression": batches_of(projects["regression"])}
            batches = {
                name: rows["regression" if name.startswith("regression") else "classification"] for name in kinds
            }

            def post(name: str, count: int) -> None:
                for i in range(count):
                    chosen = batches[name][i % len(batches[name])]
                    http.request(f"{servers[name].url}/predict", {"instances": chosen}, 10)
                    time.sleep(0.05)  # spread over several scrapes, as traffic is

            def send(requests: dict[str, list]) -> None:
                threads = [threading.Thread(target=post, args=(name, count)) for name, count in requests.items()]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()

            # First every row once, so that each class's counter exists before the traffic: increase()
            # leaves out a series' first sample, which would otherwise hold a class's first requests.
            for name in kinds:
                every_row = [row for batch in batches[name] for row in batch]
                http.request(f"{servers[name].url}/predict", {"instances": every_row}, 10)
            wait_for(
                lambda: len(query(api, 'mlops_requests_total{job="services",route="/predict"}')) == len(kinds),
                30,
                "every service's series",
            )
            send(dict.fromkeys(kinds, REQUESTS - 1))
            counted = 'sum by (track) (mlops_requests_total{job="services",route="/predict"})'
            wait_for(
                lambda: (
                    {s["metric"]["track"]: float(s["value"][1]) for s in query(api, counted)}
                    == dict.fromkeys(kinds, float(REQUESTS))
                ),
                30,
                "Prometheus to have every request",
            )

            params = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
            # 40 requests each, so p99 is the slowest: a 0.2 s margin keeps one stall of a busy
            # machine from looking like a slow canary (the slow one's requests take 0.25 s more).
            params["canary"].update(min_requests=30, min_p99_increase=0.2, window="2m")
            (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))

            def check(canary: str, stable: str = "stable") -> tuple[int, list[str], dict]:
                decision = tmp_path / f"{canary}.json"
                argv = ["canary", "check", "--prometheus", api, "--stable", f'job="services",track="{stable}"']
                argv += ["--canary", f'job="services",track="{canary}"']
                status = main([*argv, "--decision", str(decision), "--params", str(tmp_path / "params.yaml")])
                return status, capsys.readouterr().out.splitlines(), json.loads(decision.read_text())

            failing = {}
            for canary in ("good", "slow", "errors", "skewed", "nobody", "regression-shifted", "regression"):
                status, lines, decision = check(canary, "regression" if canary.startswith("regression") else "stable")
                failing[canary] = {s["name"] for s in decision["signals"] if not s["ok"]}
                assert (status, lines[-1], decision["decision"]) == (
                    (0, "canary check: promote", "promote")
                    if canary in ("good", "regression")  # the regression model against itself
                    else (3, "canary check: roll back", "rollback")
                ), "\n".join(lines)
                assert len(lines) == 6 and all(line.endswith((": ok", ": ROLL BACK")) for line in lines[1:-1])
            assert failing == {
                "good": set(),
                "slow": {"p99 latency"},
                "errors": {"server errors"},
                "skewed": {"prediction mix"},
                "nobody": {"traffic", "server errors", "p99 latency", "prediction mix"},
                "regression-shifted": {"prediction mix"},
                "regression": set(),
            }
            _, lines, shifted = check("regression-shifted", "regression")
            assert "mean prediction canary" in lines[-2] and shifted["figures"]["canary"]["values"] is not None
            _, _, slow = check("slow")
            assert slow["figures"]["canary"]["p99"] > 0.25  # the bucket its 0.25 s delay puts it in
            _, _, errors = check("errors")
            assert errors["figures"]["canary"]["errors"] > 0 == errors["figures"]["stable"]["errors"]

            # deploy.yml's check step, as the runner runs it, selecting by namespace and track.
            env = {"PROMETHEUS_URL": api, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"}
            for canary, decision in (("good", "promote"), ("errors", "rollback")):
                work = tmp_path / f"step-{canary}"
                work.mkdir()
                (work / "params.yaml").write_text((tmp_path / "params.yaml").read_text())
                result, outputs = run_step(step("Check the canary"), work, {**env, "NAMESPACE": canary}, cwd=work)
                assert result.returncode == 0, result.stdout + result.stderr
                assert outputs == {"decision": decision}, result.stdout
                recorded = json.loads((work / "runner-temp/canary-decision.json").read_text())
                assert recorded["decision"] == decision
                assert recorded["selectors"]["canary"] == f'namespace="{canary}",track="canary"'
                assert "canary check:" in (work / "summary").read_text()
    finally:
        for server in servers.values():
            server.stop()
