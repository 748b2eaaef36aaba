"""`mlops canary`: a new release takes a share of the traffic first, then is promoted or rolled back.

    mlops canary replicas 3                  # pods for the canary Deployment beside 3 stable ones (deploy/k8s/render)
    mlops canary kserve-patch start          # KServe: the InferenceService patch (start, promote or rollback)
    mlops canary wait                        # sleep canary.window: let a canary that has just started serve
    mlops canary check --prometheus URL      # compare the canary with the stable release: exit 0 promote, 3 roll back

The check reads what the service exports (docs/monitoring.md) from Prometheus's HTTP API over
params.yaml's canary.window, for each release as a label selector picks it (by default
`track="stable"` and `track="canary"`, the label deploy/k8s gives the two Deployments' pods),
and prints one line per signal: traffic, server errors, p99 latency of the prediction routes,
and the prediction mix (a classifier's classes; a regression model's mean prediction). The
canary is promoted only when every signal holds.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import urllib.parse
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from mlops import http, paths
from mlops.config import DURATION
from mlops.errors import MlopsError

EXIT_ROLLBACK = 3
# The routes that predict: the service's POST routes, whatever the protocol (a Vertex route named by
# AIP_PREDICT_ROUTE aside). Health, metadata and /metrics requests are left out: probes and scrapes
# would water the figures down.
PREDICTION_ROUTES = "/predict|/invocations|/v1/models/.+:predict|/v2/models/.+/infer"
# KServe's canaryTrafficPercent for each step (start: params canary.percent).
KSERVE_PERCENT = {"promote": 100, "rollback": 0}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--params", default=str(paths.PARAMS), help="the canary section (default: %(default)s)")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    replicas = actions.add_parser(
        "replicas", parents=[common], help="canary pods beside STABLE stable ones for canary.percent"
    )
    replicas.add_argument("stable", type=int, metavar="STABLE", help="the stable Deployment's pods now")
    patch = actions.add_parser(
        "kserve-patch", parents=[common], help="the InferenceService merge patch for a step, as JSON"
    )
    patch.add_argument(
        "step", choices=["start", *KSERVE_PERCENT], help="start: canary.percent; promote: 100; rollback: 0"
    )
    actions.add_parser("wait", parents=[common], help="sleep canary.window: let a canary that has just started serve")
    check = actions.add_parser(
        "check", parents=[common], help="compare the canary with the stable release; promote or roll back"
    )
    check.add_argument(
        "--prometheus",
        default=os.environ.get("PROMETHEUS_URL", ""),
        help="Prometheus's base URL (default: $PROMETHEUS_URL)",
    )
    check.add_argument(
        "--stable",
        default='track="stable"',
        help="label matchers of the stable release's series (default: %(default)s)",
    )
    check.add_argument(
        "--canary", default='track="canary"', help="label matchers of the canary's series (default: %(default)s)"
    )
    check.add_argument("--window", help="look back this long (default: canary.window in params.yaml)")
    check.add_argument(
        "--decision", type=Path, help="also write the decision and its figures here, as JSON (for `mlops record`)"
    )
    check.add_argument("--kserve-patch", type=Path, help="also write the InferenceService patch that carries it out")


# ---------------------------------------------------------------- pure: figures in, decision out


@dataclass(frozen=True)
class Figures:
    """What one release did in the window."""

    requests: float  # prediction requests answered
    errors: float  # of them, answered 5xx
    p99: float | None  # seconds; None without requests
    mix: dict[str, float] = field(default_factory=dict)  # a classifier's predicted rows by class
    # A regression model's predicted values: mean, 10th and 90th percentile (None without predictions).
    values: tuple[float, float, float] | None = None

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.requests if self.requests else None


@dataclass(frozen=True)
class Signal:
    name: str
    ok: bool
    figures: str  # what was measured, against what limit, for the line printed

    def line(self) -> str:
        return f"  {self.name:<15} {self.figures}: {'ok' if self.ok else 'ROLL BACK'}"


def shares(counts: dict[str, float]) -> dict[str, float]:
    total = sum(counts.values())
    return {key: value / total for key, value in counts.items()} if total > 0 else {}


def signals(stable: Figures, canary: Figures, limits) -> list[Signal]:
    """Each signal, judged by `limits` (params.yaml's canary section)."""
    need = limits.min_requests
    judged = [
        Signal(
            "traffic",
            canary.requests >= need and stable.requests >= need,
            f"canary {canary.requests:,.0f} prediction requests, stable {stable.requests:,.0f} "
            f"(at least {need:,} each)",
        )
    ]
    canary_rate, stable_rate = canary.error_rate, stable.error_rate
    if canary_rate is None or stable_rate is None:
        judged.append(Signal("server errors", False, "no requests to count them in"))
    else:
        judged.append(
            Signal(
                "server errors",
                canary_rate - stable_rate <= limits.max_error_rate_increase,
                f"canary {canary_rate:.2%}, stable {stable_rate:.2%} "
                f"(at most {limits.max_error_rate_increase:.2%} more)",
            )
        )
    if canary.p99 is None or stable.p99 is None:
        judged.append(Signal("p99 latency", False, "no request durations to take it from"))
    else:
        worse = canary.p99 > stable.p99 * limits.max_p99_ratio and canary.p99 - stable.p99 > limits.min_p99_increase
        judged.append(
            Signal(
                "p99 latency",
                not worse,
                f"canary {canary.p99 * 1000:.1f} ms, stable {stable.p99 * 1000:.1f} ms (not over "
                f"{limits.max_p99_ratio:g}x and {limits.min_p99_increase * 1000:g} ms more)",
            )
        )
    judged.append(mix_signal(stable, canary, limits.max_mix_shift))
    return judged


def mix_signal(stable: Figures, canary: Figures, most: float) -> Signal:
    """A classifier: each class's share of the predictions; a regression model: its mean prediction,
    measured in the stable release's 10-90% range of predictions (bucket edges differ between models)."""
    if stable.values is not None and canary.values is not None:
        (canary_mean, *_), (stable_mean, low, high) = canary.values, stable.values
        moved = abs(canary_mean - stable_mean) / (high - low) if high > low else math.inf
        return Signal(
            "prediction mix",
            moved <= most,
            f"mean prediction canary {canary_mean:.4g}, stable {stable_mean:.4g}: {moved:.0%} of the stable's "
            f"10-90% range {low:.4g} to {high:.4g} (at most {most:.0%})",
        )
    canary_mix, stable_mix = shares(canary.mix), shares(stable.mix)
    if not canary_mix or not stable_mix:
        return Signal("prediction mix", False, "no predictions counted")
    gaps = {key: canary_mix.get(key, 0.0) - stable_mix.get(key, 0.0) for key in sorted(stable_mix | canary_mix)}
    key = max(gaps, key=lambda k: abs(gaps[k]))
    return Signal(
        "prediction mix",
        abs(gaps[key]) <= most,
        f"largest gap {key}: canary {canary_mix.get(key, 0.0):.1%}, stable {stable_mix.get(key, 0.0):.1%} "
        f"(at most {most:.0%} apart)",
    )


def canary_replicas(stable: int, percent: int) -> int:
    """Pods that give the canary about `percent` of the requests beside `stable` pods (at least one)."""
    if stable < 1:
        raise MlopsError(f"the stable release has {stable} pods: there is nothing to compare a canary with")
    return max(1, round(stable * percent / (100 - percent)))


def kserve_patch(percent: int) -> dict:
    """The merge patch (`kubectl patch inferenceservice NAME --type merge`) setting the canary's share."""
    return {"spec": {"predictor": {"canaryTrafficPercent": percent}}}


# ---------------------------------------------------------------- Prometheus


def query(api: str, expr: str) -> list[dict]:
    """An instant query's result vector; MlopsError naming Prometheus's own complaint."""
    url = f"{api}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    try:
        reply = http.request(url, timeout=30)
        body = reply.json()
    except (OSError, ValueError) as exc:
        raise MlopsError(f"Prometheus at {api} did not answer: {type(exc).__name__}: {exc}") from exc
    if reply.status != 200 or body.get("status") != "success":
        raise MlopsError(f"Prometheus refused `{expr}`: {body.get('error') or reply.status}")
    return body["data"]["result"]


def value(api: str, expr: str) -> float | None:
    result = query(api, expr)
    number = float(result[0]["value"][1]) if result else math.nan
    return None if math.isnan(number) else number


def by_label(api: str, expr: str, label: str) -> dict[str, float]:
    return {series["metric"].get(label, ""): float(series["value"][1]) for series in query(api, expr)}


def measure(api: str, selector: str, window: str) -> Figures:
    """One release's figures over the last `window`, its series picked by the label matchers `selector`."""
    picked = f"{selector}," if selector.strip() else ""
    routes = f'{picked}route=~"{PREDICTION_ROUTES}"'
    requests = value(api, f"sum(increase(mlops_requests_total{{{routes}}}[{window}]))") or 0.0
    errors = value(api, f'sum(increase(mlops_requests_total{{{routes},status=~"5.."}}[{window}]))') or 0.0
    p99 = value(
        api,
        f"histogram_quantile(0.99, sum by (le) (rate(mlops_request_duration_seconds_bucket{{{routes}}}[{window}])))",
    )
    mix = by_label(api, f"sum by (class) (increase(mlops_predictions_total{{{selector}}}[{window}]))", "class")
    values = None
    if not mix:  # a regression model: its predicted values' histogram
        sums, counts, buckets = (
            f"increase(mlops_prediction_value_{part}{{{selector}}}[{window}])" for part in ("sum", "count", "bucket")
        )
        mean = value(api, f"sum({sums}) / sum({counts})")
        low, high = (value(api, f"histogram_quantile({q}, sum by (le) ({buckets}))") for q in (0.1, 0.9))
        if mean is not None and low is not None and high is not None:
            values = (mean, low, high)
    return Figures(requests=requests, errors=errors, p99=p99, mix=mix, values=values)


# ---------------------------------------------------------------- the command


def decision_of(judged: list[Signal], stable: Figures, canary: Figures, limits, **context) -> dict:
    """The decision file (--decision): promote or rollback, each signal, the figures, the limits, and
    `context` (prometheus, window, selectors). `mlops record --event canary` puts it in the audit trail."""
    return {
        "decision": "promote" if all(signal.ok for signal in judged) else "rollback",
        "checked_at": datetime.now(UTC).isoformat(timespec="seconds"),
        **context,
        "signals": [asdict(signal) for signal in judged],
        "figures": {"stable": asdict(stable), "canary": asdict(canary)},
        "limits": limits.model_dump(),
    }


def check(args: argparse.Namespace, limits) -> int:
    api = args.prometheus.rstrip("/")
    if not api.startswith(("http://", "https://")):
        raise MlopsError("no Prometheus to ask: pass --prometheus URL or set PROMETHEUS_URL (http://...)")
    window = args.window or limits.window
    if not re.fullmatch(DURATION, window):
        raise MlopsError(f"--window {window!r} is not a duration such as 90s, 10m or 1h")
    stable, canary = measure(api, args.stable, window), measure(api, args.canary, window)
    judged = signals(stable, canary, limits)
    promote = all(signal.ok for signal in judged)
    print(f"canary check: the last {window} at {api}, canary {{{args.canary}}} against stable {{{args.stable}}}")
    for signal in judged:
        print(signal.line())
    print(f"canary check: {'promote' if promote else 'roll back'}")
    decision = decision_of(
        judged, stable, canary, limits, prometheus=api, window=window,
        selectors={"stable": args.stable, "canary": args.canary},
    )  # fmt: skip
    from mlops.io import write_json

    if args.decision is not None:
        write_json(args.decision, decision)
    if args.kserve_patch is not None:
        write_json(args.kserve_patch, kserve_patch(KSERVE_PERCENT[decision["decision"]]))
    return 0 if promote else EXIT_ROLLBACK


def duration_seconds(window: str) -> int:
    return int(window[:-1]) * {"s": 1, "m": 60, "h": 3600}[window[-1]]


def run(args: argparse.Namespace) -> int:
    from mlops.config import load_canary

    limits = load_canary(args.params)
    if args.action == "replicas":
        print(canary_replicas(args.stable, limits.percent))
        return 0
    if args.action == "kserve-patch":
        percent = limits.percent if args.step == "start" else KSERVE_PERCENT[args.step]
        json.dump(kserve_patch(percent), sys.stdout)
        print()
        return 0
    if args.action == "wait":
        import time

        print(f"canary: letting the canary serve for {limits.window} before checking it", flush=True)
        time.sleep(duration_seconds(limits.window))
        return 0
    return check(args, limits)
