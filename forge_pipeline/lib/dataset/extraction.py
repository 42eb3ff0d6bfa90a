"""Reflection examples for a whole notes table, reusing those of unchanged notes from last run."""

import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, cast

import pyarrow as pa
import pyarrow.compute as pc

from forge_pipeline.lib.core import example_id
from forge_pipeline.lib.core.config import Extraction
from forge_pipeline.lib.core.gc_pause import cycle_collector_paused
from forge_pipeline.lib.core.jsonl import write_arrow_lines
from forge_pipeline.lib.core.source_key import source_key
from forge_pipeline.lib.core.workers import map_table_in_workers, worth_workers
from forge_pipeline.lib.dataset import blocks, clean, kinds, passages, reflections
from forge_pipeline.lib.dataset.kinds import QUESTIONS
from forge_pipeline.lib.dataset.reflections import Limits, explain_note
from forge_pipeline.lib.vault import parse, templates
from forge_pipeline.lib.vault.notes_store import (
    notes_from_table,
    read_arrow,
    read_table,
    union_sorted,
    values,
    write_arrow,
)

CACHE_SCHEMA = pa.schema(
    [
        ("path", pa.string()),
        ("sha256", pa.string()),
        ("examples", pa.list_(pa.string())),
        ("kinds", pa.list_(pa.string())),  # each example's kind, so counting parses no JSON
        ("rules", pa.list_(pa.string())),  # the rule that found each example
        ("left", pa.list_(pa.string())),  # why each passage left out was left, by category
        ("daily", pa.bool_()),  # a daily note (dated by its name or folders)
    ]
)
_to_json = json.JSONEncoder(ensure_ascii=False).encode  # json.dumps, less a new encoder a call
# Below this many notes to extract, starting worker processes costs more than it saves.
PARALLEL_MIN_NOTES = 4000


@dataclass
class ExtractionRun:
    """Every example as a JSON line (in note order), their kinds, and what was read this time."""

    examples: pa.ChunkedArray  # the JSON lines, kept in Arrow: most runs only count and write them
    notes_extracted: int
    notes_reused: int
    kinds: Counter[str]
    notes_with_examples: int
    rules: Counter[str]  # examples by the rule that found them
    left: Counter[str]  # passages (or whole notes) left out, by reason
    daily_notes: int
    daily_with_examples: int

    @cached_property
    def lines(self) -> list[str]:
        """Every example's JSON line, as Python strings."""
        return values(self.examples)

    def spread_sample(self, size: int) -> list[str]:
        """About size lines spread evenly over all of them."""
        step = max(1, len(self.examples) // size)
        rows = pa.array(range(0, len(self.examples), step)[:size], pa.int64())  # typed if empty
        return values(self.examples.take(rows))

    def write(self, path: Path) -> None:
        """Write every example to a JSONL file, atomically."""
        write_arrow_lines(path, self.examples)

    @property
    def daily_coverage(self) -> float:
        """The share of daily notes that gave at least one example."""
        return round(self.daily_with_examples / self.daily_notes, 3) if self.daily_notes else 0.0


def extract_all(
    notes_path: Path,
    cache_path: Path,
    rules: Extraction,
    system_prompt: str,
    boilerplate: frozenset[str] = frozenset(),
    limits: Limits | None = None,
) -> ExtractionRun:
    """Examples of every note; notes whose path and content are unchanged come from the cache.

    boilerplate: the lines of the vault's templates, left out of every reflection.
    """
    limits = limits or Limits()
    key = rules_key(rules, system_prompt, boilerplate, limits)
    index = read_table(notes_path, ["path", "sha256"])
    cache = _read_cache(cache_path, key)
    # A hash join in Arrow (on the cache's row numbers: joins carry no list columns), so
    # per-note Python work happens only for the notes that changed.
    numbered = cache.select(["path", "sha256"]).append_column(
        "row", pa.array(range(cache.num_rows), pa.int64())
    )
    joined = index.join(numbered, keys=["path", "sha256"])
    missing = pc.is_null(joined["row"])
    todo = joined.filter(missing)
    fresh = CACHE_SCHEMA.empty_table()
    if todo.num_rows:
        notes = read_table(notes_path)
        if todo.num_rows < notes.num_rows:
            notes = notes.take(pc.indices_nonzero(pc.is_in(notes["path"], value_set=todo["path"])))
        fresh = _extract(notes, rules, system_prompt, boilerplate, limits)
    reused = joined.filter(pc.invert(missing))["row"].combine_chunks()
    table = union_sorted(cache, reused, fresh)
    if todo.num_rows or len(reused) != cache.num_rows:  # unchanged: keep the file as it is
        _write_cache(cache_path, key, table)
    examples = table["examples"]
    gave = table.filter(pc.greater(pc.list_value_length(examples), pa.scalar(0)))
    return ExtractionRun(
        examples=cast(pa.ChunkedArray, pc.list_flatten(examples)),  # flat, chunked as the table
        notes_extracted=todo.num_rows,
        notes_reused=index.num_rows - todo.num_rows,
        kinds=_counts(table["kinds"]),
        notes_with_examples=gave.num_rows,
        rules=_counts(table["rules"]),
        left=_counts(table["left"]),
        daily_notes=pc.sum(table["daily"]).as_py() or 0,
        daily_with_examples=pc.sum(gave["daily"]).as_py() or 0,
    )


def rules_key(
    rules: Extraction, system_prompt: str, boilerplate: frozenset[str], limits: Limits
) -> str:
    """Changes when anything that shapes an example does (rules, prompt, templates, the code)."""
    shaping = [rules.model_dump(), system_prompt, QUESTIONS, sorted(boilerplate), str(limits)]
    text = json.dumps(shaping, sort_keys=True)
    modules = (blocks, clean, kinds, passages, reflections, templates, example_id, parse)
    code = source_key(*(str(m.__file__) for m in modules))
    return hashlib.sha256((text + code).encode()).hexdigest()[:16]


def _extract(notes: pa.Table, *shared: Any) -> pa.Table:
    """Examples of every note of the table, in worker processes when there are many."""
    if not worth_workers(notes.num_rows, PARALLEL_MIN_NOTES):
        return _extract_chunk(notes, *shared)
    return pa.concat_tables(map_table_in_workers(_extract_chunk, notes, *shared))


def _extract_chunk(
    table: pa.Table,
    rules: Extraction,
    system_prompt: str,
    boilerplate: frozenset[str],
    limits: Limits,
) -> pa.Table:
    with cycle_collector_paused():
        notes = notes_from_table(table)
        found = [explain_note(note, rules, system_prompt, boilerplate, limits) for note in notes]
        return pa.Table.from_pydict(
            {
                "path": [n.path for n in notes],
                "sha256": [n.sha256 for n in notes],
                "examples": [[_to_json(e) for e in f.examples] for f in found],
                "kinds": [[e["kind"] for e in f.examples] for f in found],
                "rules": [[rule_category(e["found_by"]) for e in f.examples] for f in found],
                "left": [_left_reasons(f) for f in found],
                "daily": [parse.daily_date(n.path) is not None for n in notes],
            },
            schema=CACHE_SCHEMA,
        )


def rule_category(found_by: str) -> str:
    """'section:Journal' -> 'section', 'tag:#insight' -> 'tag', 'question' -> 'question'."""
    return found_by.split(":", 1)[0]


def reason_category(left: str) -> str:
    """A reason without its particulars: 'score 1 < 3 (…)' -> 'low prose score'."""
    if left.startswith("score"):
        return "low prose score"
    return left.split(" (", 1)[0]


def _left_reasons(found: reflections.Explained) -> list[str]:
    if found.excluded:
        return [reason_category(found.excluded)]
    return [reason_category(p.left) for p in found.passages if p.left]


def _counts(column: pa.ChunkedArray) -> Counter[str]:
    """How often each value occurs in a list column, counted in Arrow."""
    counts = pc.value_counts(pc.list_flatten(column))
    found, numbers = values(counts.field("values")), values(counts.field("counts"))
    return Counter(dict(zip(found, numbers, strict=True)))


def _read_cache(path: Path, key: str) -> pa.Table:
    """The cached examples per note, if written under the same rules; else an empty table."""
    try:
        table = read_arrow(path)
    except (OSError, pa.ArrowInvalid):
        return CACHE_SCHEMA.empty_table()  # no cache yet, or a broken one: extract everything
    written_key = (table.schema.metadata or {}).get(b"forge_rules_key")
    table = table.replace_schema_metadata(None)
    if written_key != key.encode() or table.schema != CACHE_SCHEMA:
        return CACHE_SCHEMA.empty_table()
    return table


def _write_cache(path: Path, key: str, table: pa.Table) -> None:
    write_arrow(path, table.replace_schema_metadata({"forge_rules_key": key}))
