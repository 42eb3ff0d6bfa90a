"""Plain datasets: reading CSV / JSONL / Parquet and mapping columns to chat turns.

Does not touch: Dagster, models.
"""

import json
from pathlib import Path

import pandas as pd
import pytest

from forge_pipeline.lib.dataset.plain import DatasetError, infer_mapping, read_dataset


@pytest.mark.parametrize(
    ("columns", "mapping"),
    [
        (
            ["instruction", "input", "output"],
            {"prompt": "instruction", "input": "input", "response": "output"},
        ),
        (["Prompt", "Response", "id"], {"prompt": "Prompt", "response": "Response"}),
        (["prompt", "completion"], {"prompt": "prompt", "response": "completion"}),
        (["question", "answer"], {"prompt": "question", "response": "answer"}),
        (["messages", "source"], {"messages": "messages"}),
    ],
)
def test_known_layouts_are_inferred(columns, mapping):
    assert infer_mapping(columns) == mapping


def test_undecidable_columns_fail_listing_what_was_seen():
    with pytest.raises(DatasetError, match=r"saw \['title', 'notes'\]. Set datasets.mapping"):
        infer_mapping(["title", "notes"])


@pytest.mark.parametrize(
    ("explicit", "message"),
    [
        ({"prompt": "title"}, "needs 'prompt' and 'response'"),
        ({"prompt": "title", "response": "nope"}, "does not fit"),
        ({"question": "title", "response": "notes"}, "does not fit"),
    ],
)
def test_bad_explicit_mapping_is_refused(explicit, message):
    with pytest.raises(DatasetError, match=message):
        infer_mapping(["title", "notes"], explicit)


def write(path: Path, rows: list[dict]) -> Path:
    frame = pd.DataFrame(rows)
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    elif path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_each_format_becomes_chat_examples(tmp_path: Path, suffix: str):
    rows = [
        {"question": "How was the week?", "answer": "Calm, mostly."},
        {"question": "Empty answer?", "answer": ""},
    ]
    result = read_dataset(write(tmp_path / f"qa{suffix}", rows), "sys")
    assert (result.rows, result.skipped_rows, len(result.examples)) == (2, 1, 1)
    example = result.examples[0]
    assert [m["role"] for m in example["messages"]] == ["system", "user", "assistant"]
    assert example["messages"][2]["content"] == "Calm, mostly."
    assert example["source_file"] == f"qa{suffix}#0"


def test_messages_column_keeps_its_turns(tmp_path: Path):
    turns = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]
    result = read_dataset(write(tmp_path / "chat.jsonl", [{"messages": turns}]), "sys")
    assert result.examples[0]["messages"] == [{"role": "system", "content": "sys"}, *turns]


def test_explicit_mapping_and_input_column(tmp_path: Path):
    rows = [{"task": "Summarise", "context": "A long day.", "summary": "Long day."}]
    path = write(tmp_path / "t.csv", rows)
    result = read_dataset(
        path, "sys", {"prompt": "task", "input": "context", "response": "summary"}
    )
    assert result.examples[0]["messages"][1]["content"] == "Summarise\n\nA long day."


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.csv", None, "does not exist"),
        ("data.xlsx", b"x", "unknown dataset type"),
        ("bad.parquet", b"not parquet", "could not be read as parquet"),
    ],
)
def test_unreadable_files_are_clear_errors(tmp_path: Path, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DatasetError, match=message):
        read_dataset(path, "sys")
