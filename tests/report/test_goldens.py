"""Golden pull-request comments for the cases a reviewer meets, from synthetic runs.

Rerun with UPDATE_GOLDEN=1 to rewrite them after a deliberate change, and review the diff.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from mlops.report import judge, markdown, results, runs
from tests.report import synthetic
from tests.report.synthetic import Model, dataset, params, write_run

GOLDENS = Path(__file__).parent / "goldens"
CONTEXT = {
    "baseline_source": "the last successful training run on main",
    "run_url": "https://github.com/o/r/actions/runs/1",
}
MAIN = Model(accuracy=0.85, seed=1)


def comparison(tmp_path: Path, pr_model: Model, pr_params: dict | None = None, pr_data=None, validation=None):
    data = dataset()
    base_root = write_run(tmp_path / "main", data, MAIN, params(), "a" * 40)
    pr_root = tmp_path / "pr"
    kwargs = {"validation": validation} if validation else {}
    write_run(pr_root, data if pr_data is None else pr_data, pr_model, pr_params or params(), "b" * 40, **kwargs)
    pr = runs.load_run(runs.dir_reader(pr_root), "this PR", root=pr_root)
    base = runs.load_run(runs.dir_reader(base_root), "main@aaaaaaa", root=base_root)
    return judge.compare(pr, base, synthetic.SETTINGS)


def golden(name: str, result: results.Comparison) -> str:
    rendered = markdown.render(result, CONTEXT)
    path = GOLDENS / f"{name}.md"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(rendered)
    assert rendered == path.read_text(), f"{path.name} changed: rerun with UPDATE_GOLDEN=1 and review the diff"
    return rendered


def verdict_line(text: str) -> str:
    return next(line for line in text.splitlines() if line.startswith("**Verdict:**"))


def test_a_real_improvement_reads_better(tmp_path):
    result = comparison(tmp_path, Model(accuracy=0.95, seed=2), params(n_estimators=300))
    text = golden("improvement", result)
    assert result.verdict.status == "better"
    assert text.startswith("## ✅ Model report: better in f1 against main@aaaaaaa")
    assert re.search(r"f1 \+0\.\d+, 95% interval \+0\.\d+ to \+0\.\d+ over 5×2 paired folds of 600 rows: better", text)
    assert "No slice got significantly worse" in text
    assert "Both runs scored the same 120 test rows: paired bootstrap" in text
    assert "McNemar's exact test on accuracy" in text


def test_a_seed_only_change_reads_no_detectable_change(tmp_path):
    result = comparison(tmp_path, Model(accuracy=0.85, seed=7), params(seed=7))
    text = golden("seed_only", result)
    assert result.verdict.status == "unchanged"
    assert text.startswith("## ⚪ Model report: no detectable change in f1")
    assert "over 5×2 paired folds of 600 rows: no detectable change" in verdict_line(text)
    assert "⚠️ Unpaired: the runs scored different rows" in text  # a new seed draws a new test split
    assert "| `seed` | 42 | 7 |" in text


def test_a_regression_hidden_in_one_slice_is_flagged_though_the_average_improves(tmp_path):
    hurt = Model(accuracy=0.93, seed=3, by_segment={"c": 0.5})
    result = comparison(tmp_path, hurt, params(max_depth=4))
    text = golden("hidden_slice_regression", result)
    assert result.verdict.status == "better"  # on average
    assert [item.name for item in result.slices.worse] == ["segment = c"]
    assert text.startswith("## ✅ Model report: better in f1 against main@aaaaaaa, but 1 slice got worse")
    assert "🔴 **1 slice got significantly worse in f1**" in text
    assert re.search(r"\| segment = c \| \d+ \|", text)


def test_changed_rows_are_compared_unpaired_and_the_report_says_so(tmp_path):
    more = dataset(rows=660)  # the same generator, 60 more rows: the data changed
    result = comparison(tmp_path, Model(accuracy=0.85, seed=1), params(), pr_data=more)
    text = golden("changed_rows", result)
    assert not result.test.paired
    assert "⚠️ unpaired: the rows differ from main's (the data changed)." in text
    assert "over 5×2 folds of 660 rows, unpaired with main's 600" in verdict_line(text)
    assert "Not compared: the runs cross-validated different rows or folds" in text
    assert "(changed)" in text  # the dataset hash


def test_a_validation_failure_is_the_verdict(tmp_path):
    failed = (
        False,
        "**Data validation failed**: 2 of 12 expectations failed.\n\n- `x1`: values outside [-5, 5] (7 rows)",
    )
    result = comparison(tmp_path, Model(accuracy=0.85, seed=1), params(), validation=failed)
    text = golden("validation_failure", result)
    assert result.verdict.status == "invalid"
    assert text.startswith("## ❌ Model report: data validation failed")
    assert "**Data validation:** ❌ failed" in text
    assert "values outside [-5, 5] (7 rows)" in text


def tables_are_whole(text: str) -> None:
    """Every Markdown table has its header, its separator and rows of the header's width."""
    block: list[str] = []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            block.append(line)
            continue
        if block:
            widths = {len(re.split(r"(?<!\\)\|", row.strip()[1:-1])) for row in block}
            assert len(block) >= 2 and set(block[1]) <= set("|-"), block[:2]
            assert len(widths) == 1, block
            block = []


def test_a_wide_dataset_keeps_the_comment_under_githubs_limit(tmp_path):
    data = dataset(extra_columns=400)
    failures = "\n".join(f"| `extra_{i:04d}` | values outside the range seen in training | 3 |" for i in range(400))
    summary = (
        "**Data validation failed**: 400 of 1200 expectations failed.\n\n| column | problem | rows |\n|---|---|---|\n"
    )
    base_root = write_run(tmp_path / "main", data, MAIN, params(), "a" * 40)
    pr_root = write_run(
        tmp_path / "pr", data, Model(0.9, 2), params(**{f"p{i}": i for i in range(300)}), "b" * 40,
        validation=(True, summary + failures * 3),
    )  # fmt: skip
    pr = runs.load_run(runs.dir_reader(pr_root), "this PR", root=pr_root)
    base = runs.load_run(runs.dir_reader(base_root), "main@aaaaaaa", root=base_root)
    result = judge.compare(pr, base, synthetic.SETTINGS)
    full = markdown.render(result, CONTEXT, limit=None)
    comment = markdown.render(result, CONTEXT)
    assert len(full) > 65_536 > len(comment)
    assert "✂️ Trimmed to fit GitHub's comment limit: " in comment
    assert "the validation summary" in comment.split("✂️")[1].splitlines()[0]
    assert re.search(r"…and \d{3} more \(all parameters in report.html\)\.", comment)  # 300 changed, 50 shown
    tables_are_whole(comment)
    assert comment.startswith("## ") and verdict_line(comment)


@pytest.mark.parametrize("name", ["improvement", "seed_only", "hidden_slice_regression", "changed_rows"])
def test_each_verdict_sentence_states_its_interval_and_row_count(name):
    line = verdict_line((GOLDENS / f"{name}.md").read_text())
    assert re.search(r"95% interval [−+]\d\.\d{3} to [−+]\d\.\d{3} over .*\b\d+ rows", line), line
