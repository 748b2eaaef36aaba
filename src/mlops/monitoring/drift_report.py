"""Render a drift report (the dict `mlops drift` writes as drift.json) as Markdown and HTML."""

from __future__ import annotations

import html
from typing import Any

from mlops.monitoring.concept import drop_text


def verdict(column: dict[str, Any]) -> str:
    return "**drift**" if column["drifted"] else "ok"


def summary_lines(report: dict[str, Any]) -> list[str]:
    thresholds = report["thresholds"]
    lines = [
        f"- Reference: `{report['reference']['path']}` ({report['reference']['rows']} rows); "
        f"current: `{report['current']['path']}` ({report['current']['rows']} rows)",
        f"- Data drift: **{'yes' if report['data_drift'] else 'no'}** "
        f"({len(report['drifted_features'])} of {report['features']} features drifted; "
        f"drift score, the largest feature PSI: {report['drift_score']:.3f})",
        f"- Prediction drift: **{'yes' if report['prediction_drift'] else 'no'}**"
        + ("" if report["prediction_columns"] else " (not checked: no predictions on one side)"),
    ]
    concept = report.get("concept")
    if concept is None:
        lines.append("- Concept drift: not checked (no `--labels`)")
    elif concept.get("skipped"):
        lines.append(f"- Concept drift: not judged ({concept['skipped']})")
    else:
        lines.append(f"- Concept drift: **{'yes' if concept['drift'] else 'no'}** ({concept['rows']} labelled rows)")
    lines.append(
        f"- A column drifts when its p-value < {thresholds['p_value']} / {len(report['columns'])} columns "
        f"= {report['p_value_cutoff']:.2g} and its PSI ≥ {thresholds['psi']}"
    )
    lines.extend(f"- Note: {note}" for note in report.get("notes", []))
    return lines


def to_markdown(report: dict[str, Any]) -> str:
    title = "Drift found" if report["drift_detected"] else "No drift"
    lines = [f"## {title}", "", *summary_lines(report), ""]
    lines += ["| column | role | test | statistic | p-value | PSI | verdict |", "|---|---|---|---:|---:|---:|---|"]
    for column in report["columns"]:
        name = column["column"].replace("|", "\\|")
        lines.append(
            f"| {name} | {column['role']} | {column['test']} | {column['statistic']:.4f} | "
            f"{column['p_value']:.3g} | {column['psi']:.4f} | {verdict(column)} |"
        )
    concept = report.get("concept")
    if concept and not concept.get("skipped"):
        lines += [
            "",
            f"Concept drift (live metrics on labelled rows; drift when a metric is worse than in training by more "
            f"than {concept['max_drop']}: a fall, or for an error its rise relative to training's):",
            "",
        ]
        lines += ["| metric | training | live | drop | verdict |", "|---|---:|---:|---:|---|"]
        for row in concept["metrics"]:
            training = "n/a" if row["training"] is None else f"{row['training']:.4f}"
            drop = "n/a" if row["drop"] is None else drop_text(row)
            flag = "**drift**" if row["drifted"] else "ok"
            lines.append(f"| {row['metric']} | {training} | {row['live']:.4f} | {drop} | {flag} |")
    return "\n".join(lines) + "\n"


def _svg_histogram(histogram: dict[str, Any], width: int = 420, height: int = 140) -> str:
    labels, reference, current = histogram["labels"], histogram["reference"], histogram["current"]
    if not labels:
        return "<p>no values</p>"
    top = max([*reference, *current, 1e-9])
    slot = width / len(labels)
    bar = slot * 0.42
    parts = [f'<svg width="{width}" height="{height + 16}" role="img">']
    for index, (ref, cur) in enumerate(zip(reference, current, strict=True)):
        x = index * slot
        for offset, share, color in ((0, ref, "#4c78a8"), (bar, cur, "#f58518")):
            bar_height = height * share / top
            parts.append(
                f'<rect x="{x + offset:.1f}" y="{height - bar_height:.1f}" width="{bar:.1f}" '
                f'height="{bar_height:.1f}" fill="{color}"><title>{html.escape(labels[index])}: '
                f"{'reference' if offset == 0 else 'current'} {share:.3f}</title></rect>"
            )
    parts.append(f'<text x="0" y="{height + 12}" font-size="10">{html.escape(labels[0])}</text>')
    parts.append("</svg>")
    return "".join(parts)


def to_html(report: dict[str, Any]) -> str:
    title = "Drift found" if report["drift_detected"] else "No drift"
    summary = "".join(f"<li>{html.escape(line[2:]).replace('**', '')}</li>" for line in summary_lines(report))
    rows = "".join(
        f"<tr class={'drift' if c['drifted'] else 'ok'}><td>{html.escape(c['column'])}</td><td>{c['role']}</td>"
        f"<td>{c['test']}</td><td>{c['statistic']:.4f}</td><td>{c['p_value']:.3g}</td><td>{c['psi']:.4f}</td>"
        f"<td>{'drift' if c['drifted'] else 'ok'}</td></tr>"
        for c in report["columns"]
    )
    charts = "".join(
        f"<figure><figcaption>{html.escape(c['column'])} — PSI {c['psi']:.3f}, p {c['p_value']:.3g}"
        f"{' — drift' if c['drifted'] else ''}</figcaption>{_svg_histogram(c['histogram'])}</figure>"
        for c in report["columns"]
        if "histogram" in c
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Drift report: {title}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; }} table {{ border-collapse: collapse; }}
td, th {{ border: 1px solid #ccc; padding: 2px 8px; text-align: right; }} td:first-child {{ text-align: left; }}
tr.drift {{ background: #fde2e1; }} figure {{ display: inline-block; margin: 8px; }}
.key span {{ display: inline-block; width: 12px; height: 12px; margin: 0 4px 0 12px; }}
</style></head><body>
<h1>{title}</h1><p>Created {html.escape(report["created_at"])}</p><ul>{summary}</ul>
<table><tr><th>column</th><th>role</th><th>test</th><th>statistic</th><th>p-value</th><th>PSI</th><th>verdict</th></tr>
{rows}</table>
<h2>Reference against current</h2>
<p class="key"><span style="background:#4c78a8"></span>reference<span style="background:#f58518"></span>current
(share of rows per bin)</p>
{charts}
</body></html>
"""
