"""Vault parsing on the sample vault and on small hand-written notes.

Does not touch: Dagster, models.
"""

import os
import shutil
from pathlib import Path

import pytest
import yaml

from forge_pipeline.lib.core.config import Parsing
from forge_pipeline.lib.core.source_key import source_key
from forge_pipeline.lib.vault.notes_store import PARSER_KEY, read_arrow, write_arrow
from forge_pipeline.lib.vault.parse import inline_tags, parse_note, simple_frontmatter
from forge_pipeline.lib.vault.scan import VaultError, _read_up_to, refresh_notes, scan_vault
from forge_pipeline_tests.helpers import SAMPLE_VAULT, vault_digest


def test_sample_vault_every_file_accounted_for():
    scan = scan_vault(SAMPLE_VAULT)
    assert scan.files_seen == len(scan.notes) + len(scan.skipped)
    assert len([n for n in scan.notes if n.path.startswith("Daily/")]) >= 120
    reasons = {s.path: s.reason for s in scan.skipped}
    assert reasons == {
        ".obsidian/app.json": "in ignored folder .obsidian/",
        "Daily/2026-03-15-latin1.md": "not valid UTF-8 (byte 45); re-save the note as UTF-8",
        "Daily/2026-04-01-empty.md": "empty file",
        "Templates/Daily Template.md": "in ignored folder Templates/",
        "Templates/Evening review.md": "in ignored folder Templates/",
    }


def make_odd_vault(root: Path) -> Path:
    """A vault with one file of every kind that must be skipped, and one good note."""
    vault = root / "vault"
    (vault / "attachments").mkdir(parents=True)
    (vault / "notes").mkdir()
    (vault / "notes" / "good.md").write_text("# Good\nLooking back, fine. #reflection\n")
    (vault / "notes" / "binary.md").write_bytes(b"GIF89a\x00\x01\x02")
    (vault / "notes" / "huge.md").write_text("x" * 3000)
    (vault / "notes" / "photo.png").write_bytes(b"\x89PNG")
    (vault / "attachments" / "scan.md").write_text("# attached\n")
    (vault / "notes" / "loop-a.md").symlink_to(vault / "notes" / "loop-b.md")
    (vault / "notes" / "loop-b.md").symlink_to(vault / "notes" / "loop-a.md")
    (vault / "linked").symlink_to(vault / "notes", target_is_directory=True)
    return vault


def test_every_odd_file_is_skipped_with_its_reason(tmp_path: Path):
    scan = scan_vault(make_odd_vault(tmp_path), Parsing(max_note_kb=2))
    reasons = {s.path: s.reason for s in scan.skipped}
    assert [n.path for n in scan.notes] == ["notes/good.md"]
    assert reasons == {
        "attachments/scan.md": "in ignored folder attachments/",
        "linked": "symlinked folder (not followed)",
        "notes/binary.md": "binary file",
        "notes/huge.md": "larger than 2 KB (parsing.max_note_kb)",
        "notes/loop-a.md": "symlink loop",
        "notes/loop-b.md": "symlink loop",
        "notes/photo.png": "not a Markdown file",
    }
    assert scan.files_seen == len(scan.notes) + len(scan.skipped)


def test_ignored_folders_are_configurable(tmp_path: Path):
    vault = make_odd_vault(tmp_path)
    scan = scan_vault(vault, Parsing(ignore_dirs=[], max_note_kb=2))
    assert "attachments/scan.md" in {n.path for n in scan.notes}


def test_rescan_reads_only_new_and_changed_notes(tmp_path: Path):
    vault = tmp_path / "vault"
    shutil.copytree(SAMPLE_VAULT, vault, symlinks=True)
    first = scan_vault(vault)
    previous = {n.path: n.stamp for n in first.notes}
    (vault / "Daily" / "2026-01-05.md").write_text("# Changed\nI realize this changed.\n")
    (vault / "Daily" / "new.md").write_text("# New\nI wonder about this.\n")
    (vault / "Daily" / "2026-01-06.md").unlink()
    second = scan_vault(vault, previous=previous)
    assert len(second.reused) == len(first.notes) - 2
    assert "Daily/2026-01-06.md" not in second.reused
    paths = {n.path: n for n in second.notes}
    assert set(paths) == {"Daily/2026-01-05.md", "Daily/new.md"}
    assert paths["Daily/2026-01-05.md"].title == "Changed"


def test_bad_frontmatter_is_a_problem_and_the_body_is_still_read():
    note = next(n for n in scan_vault(SAMPLE_VAULT).notes if n.path == "Daily/2026-02-30.md")
    assert note.problem and "frontmatter" in note.problem
    assert "The body still deserves to be read." in note.body
    assert note.date is None  # 30 February is not a date


def test_scan_never_writes_the_vault():
    before = vault_digest(SAMPLE_VAULT)
    scan_vault(SAMPLE_VAULT)
    assert vault_digest(SAMPLE_VAULT) == before


def test_missing_vault_is_one_clear_error(tmp_path: Path):
    with pytest.raises(VaultError, match="does not exist; set FORGE_VAULT"):
        scan_vault(tmp_path / "nowhere")


@pytest.mark.parametrize(
    ("text", "tags", "date", "title"),
    [
        (
            "---\ntags: [a, b]\ndate: 2026-01-02\n---\n# T\nbody #c",
            ["a", "b", "c"],
            "2026-01-02",
            "T",
        ),
        (
            "---\ntags: a, b\ncreated: 2026-02-03\ntitle: X\n---\nno h1",
            ["a", "b"],
            "2026-02-03",
            "X",
        ),
        ("# Heading\n`#code` and https://x.org/#frag and #real", ["real"], "2026-03-04", "Heading"),
    ],
)
def test_parse_note(text, tags, date, title):
    note = parse_note(text, "Daily/2026-03-04.md")
    assert (note.tags, note.date, note.title) == (tags, date, title)


@pytest.mark.parametrize(
    ("path", "date"),
    [
        ("Daily/2026-03-04.md", "2026-03-04"),
        ("Daily/2026_03_04.md", "2026-03-04"),
        ("Daily/2026.03.04 Wednesday.md", "2026-03-04"),
        ("Daily/20260304.md", "2026-03-04"),
        ("Journal/2026/03/04.md", "2026-03-04"),
        ("Journal/2026/03/Standup.md", None),
        ("Daily/2026-0304.md", None),  # mixed separators
        ("Ideas/1234567890.md", None),
        ("Daily/2026-02-30.md", None),
        ("Daily notes/March 4th, 2026, Wednesday.md", "2026-03-04"),
        ("pages/Mar 4th, 2026.md", "2026-03-04"),
        ("Ideas/The May 5 plan.md", None),
        ("Daily notes/February 30th, 2026.md", None),
    ],
)
def test_dates_from_daily_note_names_and_folders(path, date):
    assert parse_note("no date in the text", path).date == date


def test_inline_tags_skip_code_blocks_and_keep_nested():
    body = "```\n#not\n```\nI did #area/sub and #reflection"
    assert inline_tags(body) == ["area/sub", "reflection"]


def test_inline_tags_skip_link_anchors():
    body = "[[Note#Heading]], [[#Local]], ![[img.png#x]], [part](#later), [doc](a.md#sec) #real"
    assert inline_tags(body) == ["real"]


@pytest.mark.parametrize(
    "text",
    [
        "date: 2026-01-05\ntags: [daily, family, health]\nmood: calm",
        "tags:\n  - a\n  - area/sub\ntitle: Hello world\ncreated: 2026-02-03 10:00",
        "aliases:\n- Maya\n- M\nempty:\nnothing: ~",
        "url: https://example.org/a",
    ],
)
def test_plain_frontmatter_reads_as_yaml_would(text):
    simple = simple_frontmatter(text)
    assert simple is not None
    loaded = yaml.safe_load(text)
    assert simple == {k: None if v is None else _as_text(v) for k, v in loaded.items()}


def _as_text(value):
    return [str(v) for v in value] if isinstance(value, list) else str(value)


@pytest.mark.parametrize(
    "text",
    [
        'title: "quoted"',
        "nested:\n  key: value",
        "x: a #comment",
        "date: 2026-02-30",
        "k: [a, [b]]",
    ],
)
def test_richer_frontmatter_goes_to_the_yaml_parser(text):
    assert simple_frontmatter(text) is None


def test_aliases_as_list_or_string():
    listed = parse_note("---\naliases: [Maya, M]\n---\nbody", "People/Maya.md")
    spaced = parse_note("---\naliases: Maya Lind, M\n---\nbody", "People/Maya.md")
    assert listed.aliases == ["Maya", "M"] and spaced.aliases == ["Maya Lind", "M"]


def test_notes_parsed_by_other_code_are_read_again(tmp_path: Path):
    target = tmp_path / "notes.arrow"
    first = refresh_notes(SAMPLE_VAULT, Parsing(), target)
    again = refresh_notes(SAMPLE_VAULT, Parsing(), target)
    assert again.table.num_rows == 0 and len(again.reused) == first.table.num_rows
    older = read_arrow(target).replace_schema_metadata({PARSER_KEY: "an older parser"})
    write_arrow(target, older)
    upgraded = refresh_notes(SAMPLE_VAULT, Parsing(), target)
    assert upgraded.table.num_rows == first.table.num_rows and not upgraded.reused


def test_source_key_follows_the_code(tmp_path: Path):
    code = tmp_path / "module.py"
    code.write_text("A = 1\n")
    before = source_key(code)
    assert source_key(code) == before
    code.write_text("A = 2\n")
    assert source_key(code) != before


def test_an_empty_vault_gives_an_empty_table(tmp_path: Path):
    (tmp_path / "vault").mkdir()
    target = tmp_path / "notes.arrow"
    assert refresh_notes(tmp_path / "vault", Parsing(), target).files_seen == 0
    assert read_arrow(target).num_rows == 0


def test_read_sized_by_stat_still_sees_a_file_that_grew(tmp_path):
    note = tmp_path / "grown.md"
    note.write_text("x" * 5000)
    fd = os.open(note, os.O_RDONLY)
    try:
        assert len(_read_up_to(fd, 10, 3000)) == 3000  # stat said 10 bytes: read on to the limit
    finally:
        os.close(fd)
    fd = os.open(note, os.O_RDONLY)
    try:
        assert len(_read_up_to(fd, 5000, 9000)) == 5000
    finally:
        os.close(fd)
