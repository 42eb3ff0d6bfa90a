"""Extraction over a notes table: the cache of unchanged notes, and the worker-process path.

Does not touch: Dagster, models.
"""

from pathlib import Path

import pytest

from bench.synthetic_vault import generate
from forge_pipeline.lib.core.config import Extraction, Parsing
from forge_pipeline.lib.dataset import extraction
from forge_pipeline.lib.dataset.extraction import extract_all
from forge_pipeline.lib.vault import scan as vault
from forge_pipeline.lib.vault.notes_store import NotesTableError, read_table
from forge_pipeline.lib.vault.scan import refresh_notes


@pytest.fixture
def synthetic(tmp_path: Path) -> tuple[Path, Path]:
    """A 300-note synthetic vault and its notes table."""
    root = tmp_path / "vault"
    generate(root, 300)
    refresh_notes(root, Parsing(), tmp_path / "notes.arrow")
    return root, tmp_path


def test_unchanged_notes_come_from_the_cache(synthetic):
    root, work = synthetic
    notes, cache = work / "notes.arrow", work / "cache.arrow"
    total = read_table(notes, ["path"]).num_rows  # the notes, and one with broken frontmatter
    first = extract_all(notes, cache, Extraction(), "sys")
    assert first.notes_extracted == total > 300 and first.lines
    again = extract_all(notes, cache, Extraction(), "sys")
    assert again.notes_extracted == 0 and again.lines == first.lines

    changed = sorted((root / "Daily").rglob("*.md"))[0]
    changed.write_text(changed.read_text() + "\nI realize the cache noticed. #insight\n")
    refresh_notes(root, Parsing(), notes)
    third = extract_all(notes, cache, Extraction(), "sys")
    assert third.notes_extracted == 1 and len(third.lines) >= len(first.lines)

    other_rules = extract_all(notes, cache, Extraction(reflection_tags=["insight"]), "sys")
    assert other_rules.notes_extracted == total, "new rules must not reuse old examples"
    templated = extract_all(notes, cache, Extraction(), "sys", frozenset({"A template line."}))
    assert templated.notes_extracted == total, "new templates must not reuse old examples"


def test_worker_processes_give_the_same_notes_and_examples(synthetic, monkeypatch):
    root, work = synthetic
    serial_scan = vault.scan_vault(root)
    serial = extract_all(work / "notes.arrow", work / "serial.arrow", Extraction(), "sys")
    monkeypatch.setattr(vault, "PARALLEL_MIN_FILES", 10)
    monkeypatch.setattr(extraction, "PARALLEL_MIN_NOTES", 10)
    parallel_scan = vault.scan_vault(root)
    paths = serial_scan.table["path"].to_pylist()
    assert paths == sorted(paths) and len(paths) > 300  # read in path order, never re-sorted
    assert parallel_scan.table.equals(serial_scan.table)
    assert parallel_scan.skipped == serial_scan.skipped
    parallel = extract_all(work / "notes.arrow", work / "parallel.arrow", Extraction(), "sys")
    assert parallel.lines == serial.lines


def test_a_corrupt_cache_or_notes_table_is_rebuilt_or_named(synthetic):
    root, work = synthetic
    notes, cache = work / "notes.arrow", work / "cache.arrow"
    total = read_table(notes, ["path"]).num_rows
    first = extract_all(notes, cache, Extraction(), "sys")
    cache.write_bytes(b"not an arrow file")
    again = extract_all(notes, cache, Extraction(), "sys")
    assert again.notes_extracted == total and again.lines == first.lines

    notes.write_bytes(b"not an arrow file")
    with pytest.raises(NotesTableError, match="re-materialize vault_notes"):
        extract_all(notes, cache, Extraction(), "sys")
    scan = refresh_notes(root, Parsing(), notes)  # an unreadable table: every note read again
    assert scan.table.num_rows == total and not scan.reused
    assert extract_all(notes, cache, Extraction(), "sys").lines == first.lines


def test_the_written_file_holds_every_line_after_a_partial_reuse(synthetic):
    root, work = synthetic
    notes, cache = work / "notes.arrow", work / "cache.arrow"
    extract_all(notes, cache, Extraction(), "sys")
    changed = sorted((root / "Daily").rglob("*.md"))[5]
    changed.write_text(changed.read_text() + "\nI realize one note changed. #insight\n")
    refresh_notes(root, Parsing(), notes)
    run = extract_all(notes, cache, Extraction(), "sys")  # reused rows and fresh ones, merged
    assert run.notes_extracted == 1
    run.write(work / "examples.jsonl")
    assert (work / "examples.jsonl").read_text(encoding="utf-8").splitlines() == run.lines
    sample = run.spread_sample(10)
    assert len(sample) == 10 and set(sample) <= set(run.lines)


def test_a_vault_with_no_examples_writes_an_empty_file_and_samples_nothing(tmp_path: Path):
    vault = tmp_path / "vault"
    vault.mkdir()
    (vault / "todo.md").write_text("- [ ] buy milk\n")
    refresh_notes(vault, Parsing(), tmp_path / "notes.arrow")
    run = extract_all(tmp_path / "notes.arrow", tmp_path / "cache.arrow", Extraction(), "sys")
    run.write(tmp_path / "examples.jsonl")
    assert (tmp_path / "examples.jsonl").read_bytes() == b""
    assert run.spread_sample(10) == [] and run.lines == []
