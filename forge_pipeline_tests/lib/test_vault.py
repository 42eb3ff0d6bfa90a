"""Vault parsing on the sample vault and on small hand-written notes.

Does not touch: Dagster, models.
"""

import hashlib
from pathlib import Path

import pytest

from forge_pipeline.lib.vault import VaultError, inline_tags, parse_note, scan_vault
from forge_pipeline_tests.conftest import SAMPLE_VAULT


def vault_digest(vault: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(vault.rglob("*")):
        if path.is_file():
            digest.update(str(path).encode() + path.read_bytes())
    return digest.hexdigest()


def test_sample_vault_every_file_accounted_for():
    scan = scan_vault(SAMPLE_VAULT)
    assert scan.files_seen == len(scan.notes) + len(scan.skipped)
    assert len([n for n in scan.notes if n.path.startswith("Daily/")]) >= 120
    reasons = {s.path: s.reason for s in scan.skipped}
    assert reasons["Daily/2026-03-15-latin1.md"].startswith("not valid UTF-8")
    assert reasons["Daily/2026-04-01-empty.md"] == "empty file"


def test_sample_vault_ignores_obsidian_and_templates():
    paths = {n.path for n in scan_vault(SAMPLE_VAULT).notes}
    assert not any(p.startswith((".obsidian/", "Templates/")) for p in paths)


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


def test_inline_tags_skip_code_blocks_and_keep_nested():
    body = "```\n#not\n```\nI did #area/sub and #reflection"
    assert inline_tags(body) == ["area/sub", "reflection"]
