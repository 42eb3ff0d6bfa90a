"""dataset_examples feeding curated_dataset beside the vault, and its clear failure.

Does not touch: training and later stages.
"""

import json
import random
from collections import Counter
from pathlib import Path

import dagster as dg
import pandas as pd

from forge_pipeline_tests.helpers import materialize_assets, metadata


def run(overrides: dict[str, str]) -> dg.ExecuteInProcessResult:
    return materialize_assets(
        overrides, ["vault_notes", "reflection_examples", "dataset_examples", "curated_dataset"]
    )


def test_a_csv_adds_examples_to_the_curated_set(tmp_path: Path):
    vocabulary = "calm river garden sister work letter morning train bread music rain chess".split()
    rows = [
        {
            "prompt": f"Question number {i} about my week?",
            # Distinct word orders: near-duplicate removal must keep every one.
            "response": " ".join(random.Random(i).sample(vocabulary * 2, 16)) + f" ({i}).",
        }
        for i in range(40)
    ]
    path = tmp_path / "qa.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    without = run({})
    with_csv = run({"datasets.files": f"[{path}]"})
    assert metadata(with_csv, "dataset_examples")["examples"] == 40
    before = metadata(without, "curated_dataset")
    after = metadata(with_csv, "curated_dataset")
    total = lambda m: m["train_examples"] + m["val_examples"]  # noqa: E731
    assert total(after) == total(before) + 40


def test_undecidable_columns_fail_with_the_columns_seen(tmp_path: Path):
    path = tmp_path / "odd.csv"
    pd.DataFrame([{"title": "a", "notes": "b"}]).to_csv(path, index=False)
    result = run({"datasets.files": f"[{path}]"})
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "saw ['title', 'notes']" in str(failure.step_failure_data.user_failure_data.description)


def test_undated_notes_stay_undated_in_the_examples(forge_env: Path):
    assert run({}).success
    text = (forge_env / "artifacts" / "reflection_examples" / "examples.jsonl").read_text()
    examples = [json.loads(line) for line in text.splitlines()]
    assert "NaN" not in text and " on nan" not in text
    undated = [e for e in examples if e["date"] is None]
    assert undated and all(isinstance(e["date"], str) for e in examples if e not in undated)


def test_example_counts_match_the_written_file(forge_env: Path):
    result = run({})
    text = (forge_env / "artifacts" / "reflection_examples" / "examples.jsonl").read_text()
    examples = [json.loads(line) for line in text.splitlines()]
    counted = metadata(result, "reflection_examples")
    assert counted["examples"] == len(examples) > 0
    assert counted["notes_with_examples"] == len({e["source_file"] for e in examples})
    kinds = Counter(e["kind"] for e in examples)
    rows = counted["by_kind"].splitlines()[2:]  # below the header and its rule
    assert {r.split("|")[1].strip(): int(r.split("|")[2]) for r in rows} == kinds


def test_the_daily_template_prompt_is_left_out(forge_env: Path):
    result = run({})
    text = (forge_env / "artifacts" / "reflection_examples" / "examples.jsonl").read_text()
    assert metadata(result, "reflection_examples")["template_lines_left_out"] == 1
    assert "What stayed with me today?" not in text  # Templates/Daily Template.md wrote it
    assert "Shipping a small thing on Tuesday" in text  # the answer under it is kept


def table_rows(markdown: str) -> dict[str, int]:
    """A two-column Markdown table of metadata as a mapping."""
    rows = markdown.splitlines()[2:]  # below the header and its rule
    return {r.split("|")[1].strip(): int(r.split("|")[2]) for r in rows}


def test_extraction_says_what_it_took_by_rule_and_what_it_left_by_reason(forge_env: Path):
    result = run({})
    found = metadata(result, "reflection_examples")
    by_rule = table_rows(found["by_rule"])
    assert {"question", "section", "tag", "phrase", "prose"} <= set(by_rule)
    assert sum(by_rule.values()) == found["examples"]
    reasons = table_rows(found["left_out_by_reason"])
    assert reasons["not yours: imported"] == 2  # Readwise/ and Clippings/
    assert found["left_out_not_yours"] >= 2 and found["left_out_private"] == 1
    assert found["daily_notes"] > 130 and 0.5 < found["daily_coverage"] <= 1
    assert "| rule |" in found["sample"]
    curated = metadata(result, "curated_dataset")
    assert set(table_rows(curated["by_rule"])) <= {*by_rule, "dataset"}
    text = (forge_env / "artifacts" / "reflection_examples" / "examples.jsonl").read_text()
    assert "Attention is the rarest thing" not in text  # Readwise highlights
    assert "panic on the train" not in text  # the private note
