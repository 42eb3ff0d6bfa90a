"""Plain datasets (CSV, JSONL, Parquet) turned into the same chat examples as the vault's."""

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from forge_pipeline.lib.core.example_id import example_id

if TYPE_CHECKING:
    import pandas as pd

# Column layouts recognised without help, in order of preference (names compared lowercased).
KNOWN_LAYOUTS: list[dict[str, str]] = [
    {"messages": "messages"},
    {"messages": "conversations"},
    {"prompt": "instruction", "input": "input", "response": "output"},
    {"prompt": "instruction", "response": "output"},
    {"prompt": "instruction", "response": "response"},
    {"prompt": "prompt", "response": "response"},
    {"prompt": "prompt", "response": "completion"},
    {"prompt": "question", "response": "answer"},
    {"prompt": "input", "response": "output"},
]
ROLES = {"prompt", "input", "response", "system", "messages"}


class DatasetError(ValueError):
    """A dataset file cannot be read or mapped to chat turns."""


@dataclass
class DatasetResult:
    """Examples from one file, the mapping used and how many rows were left out."""

    examples: list[dict[str, Any]]
    mapping: dict[str, str]
    rows: int
    skipped_rows: int


def read_table(path: Path) -> "pd.DataFrame":
    """A CSV, JSONL or Parquet file as a table."""
    import pandas as pd  # here, not at the top: ~0.5 s on every Dagster step otherwise

    if not path.is_file():
        raise DatasetError(f"Dataset file {path} does not exist; fix datasets.files in forge.yaml.")
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return pd.read_csv(path, dtype=str, keep_default_na=False)
        if suffix in (".jsonl", ".ndjson"):
            return pd.read_json(path, lines=True, dtype=False)  # pyright: ignore[reportArgumentType]  # pandas documents dtype=False; its stubs omit it
        if suffix == ".parquet":
            return pd.read_parquet(path)
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path} could not be read as {suffix[1:]} ({exc}).") from exc
    raise DatasetError(f"{path}: unknown dataset type {suffix!r}; use .csv, .jsonl or .parquet.")


def infer_mapping(columns: list[str], explicit: dict[str, str] | None = None) -> dict[str, str]:
    """Role -> column: the explicit mapping if given, else the first known layout present."""
    lowered = {c.lower(): c for c in columns}
    if explicit:
        unknown_roles = set(explicit) - ROLES
        missing = [c for c in explicit.values() if c not in columns]
        if unknown_roles or missing:
            raise DatasetError(
                f"datasets.mapping {explicit} does not fit: roles must be among "
                f"{sorted(ROLES)} and columns among {columns}."
            )
        if "messages" not in explicit and not {"prompt", "response"} <= set(explicit):
            raise DatasetError("datasets.mapping needs 'prompt' and 'response' (or 'messages').")
        return dict(explicit)
    for layout in KNOWN_LAYOUTS:
        if all(name in lowered for name in layout.values()):
            return {role: lowered[name] for role, name in layout.items()}
    raise DatasetError(
        f"Cannot tell which columns hold the prompt and the answer; saw {columns}. "
        "Set datasets.mapping, e.g. {prompt: my_question, response: my_answer}."
    )


ColumnGuesser = Callable[[list[str], list[dict]], dict[str, str]]


def read_dataset(
    path: Path,
    system_prompt: str,
    explicit: dict[str, str] | None = None,
    guess: ColumnGuesser | None = None,
) -> DatasetResult:
    """Chat examples from one dataset file; rows without both turns are skipped.

    When no known layout fits, `guess` (Gemini, given the columns and a few rows) may name the
    columns; its answer must pass the same checks as a mapping written in forge.yaml.
    """
    frame = read_table(path)
    columns = [str(c) for c in frame.columns]
    try:
        mapping = infer_mapping(columns, explicit)
    except DatasetError as exc:
        if explicit or guess is None:
            raise
        mapping = _guessed_mapping(columns, frame.head(3).to_dict(orient="records"), guess, exc)
    examples, skipped = [], 0
    for index, row in enumerate(frame.to_dict(orient="records")):
        messages = _messages(row, mapping, system_prompt)
        if messages is None:
            skipped += 1
            continue
        examples.append(
            {
                "id": example_id(path.name, json.dumps(messages[1:], sort_keys=True)),
                "messages": messages,
                "source_file": f"{path.name}#{index}",
                "tags": [],
                "date": None,
                "kind": "dataset",
                "found_by": f"dataset:{path.name}",
            }
        )
    return DatasetResult(examples, mapping, len(frame), skipped)


def _guessed_mapping(
    columns: list[str], rows: list[dict], guess: ColumnGuesser, error: DatasetError
) -> dict[str, str]:
    try:
        return infer_mapping(columns, guess(columns, rows))
    except (ValueError, RuntimeError) as exc:  # Gemini failed, or its guess does not fit
        raise DatasetError(f"{error} (Gemini could not tell either: {exc})") from exc


def _messages(row: dict[str, Any], mapping: dict[str, str], system: str) -> list[dict] | None:
    if "messages" in mapping:
        turns = [
            {"role": str(t["role"]), "content": str(t["content"])}
            for t in _as_list(row[mapping["messages"]])
            if isinstance(t, dict)
        ]
        roles = [t["role"] for t in turns]
        if "user" not in roles or "assistant" not in roles:
            return None
        return turns if roles[0] == "system" else [{"role": "system", "content": system}, *turns]
    prompt, answer = _text(row.get(mapping["prompt"])), _text(row.get(mapping["response"]))
    if "input" in mapping and (extra := _text(row.get(mapping["input"]))):
        prompt = f"{prompt}\n\n{extra}"
    if not prompt or not answer:
        return None
    system = _text(row.get(mapping["system"])) if "system" in mapping else system
    return [
        {"role": "system", "content": system or ""},
        {"role": "user", "content": prompt},
        {"role": "assistant", "content": answer},
    ]


def _as_list(value: Any) -> list:
    return list(value) if value is not None and not isinstance(value, (str, dict)) else []


def _text(value: Any) -> str:
    return (
        ""
        if value is None or (isinstance(value, float) and math.isnan(value))
        else str(value).strip()
    )
