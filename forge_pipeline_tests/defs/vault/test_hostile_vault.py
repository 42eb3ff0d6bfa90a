"""A vault of odd and hostile files: none hangs, crashes or leaks into the notes or the examples.

Does not touch: any stage after reflection_examples.
"""

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from forge_pipeline.lib.core.config import ConfigError, load_settings
from forge_pipeline.lib.dataset.clean import plain_text
from forge_pipeline.lib.dataset.redact import redact
from forge_pipeline.lib.vault.parse import MAX_TITLE_CHARS, parse_note
from forge_pipeline.lib.vault.scan import scan_vault
from forge_pipeline.lib.vault.templates import template_lines
from forge_pipeline_tests.helpers import materialize_assets, metadata

OUTSIDE = "OUTSIDE-THE-VAULT-MARKER"
GOOD = "I walked to the harbour this evening and I realized how much I had missed the sea."
ALIAS_BOMB = "\n".join(
    ["---", 'a: &a ["x","x","x","x","x","x","x","x","x"]']
    + [
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)}]"
        for i in range(8)
    ]
    + ["title: *i", "---", GOOD]
)


@contextmanager
def hang_guard(seconds: int) -> Iterator[None]:
    """Turn a hang (a blocking open, a runaway regex) into a failure instead of a stuck suite."""

    def stop(signum, frame):
        raise TimeoutError(f"still running after {seconds} s: something hangs")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def hostile_vault(root: Path) -> tuple[Path, dict[str, str | None]]:
    """A vault of every odd file at once; each path -> its expected skip reason (None: read)."""
    vault, outside = root / "vault", root / "elsewhere"
    (vault / "Daily").mkdir(parents=True)
    (vault / "Templates").mkdir()
    outside.mkdir()
    (outside / "secret.md").write_text(f"{OUTSIDE} I keep my bank PIN here.\n")
    (vault / "Daily" / "2026-03-01.md").write_text(f"# Evening\n\n{GOOD}\n")
    os.mkfifo(vault / "Daily" / "pipe.md")
    os.mkfifo(vault / "Templates" / "stuck.md")
    (vault / "leak.md").symlink_to(outside / "secret.md")
    (vault / "Templates" / "leak.md").symlink_to(outside / "secret.md")
    (vault / "again.md").symlink_to(vault / "Daily" / "2026-03-01.md")  # inside: fine
    (vault / "bomb.md").write_text(ALIAS_BOMB)
    (vault / "brackets.md").write_text("---\ntags: " + "[" * 1000 + "]" * 1000 + "\n---\n" + GOOD)
    (vault / "deep.md").write_text("---\ntags: " + "[" * 30000 + "\n---\n" + GOOD)
    (vault / "dashes.md").write_text("---\nlist:\n" + "- " * 5000 + "x\n---\n" + GOOD)
    (vault / "long line.md").write_text("I realize " + "_a " * 16000 + "\n\n" + "[[a " * 16000)
    (vault / "addresses.md").write_text("I wrote to " + "a." * 12000 + "@ and " + "1-" * 12000)
    (vault / "title.md").write_text("---\ntitle: '" + "t" * 100_000 + "'\n---\n" + GOOD)
    (vault / "binary.md").write_bytes(b"\x00\x01" * 100)
    expected: dict[str, str | None] = {
        "Daily/2026-03-01.md": None,
        "Daily/pipe.md": "not a regular file",
        "leak.md": "outside the vault",
        "again.md": None,
        "bomb.md": None,
        "brackets.md": None,
        "deep.md": None,
        "dashes.md": None,
        "long line.md": None,
        "addresses.md": None,
        "title.md": None,
        "binary.md": "binary file",
        "Templates/stuck.md": "in ignored folder",
        "Templates/leak.md": "in ignored folder",
    }
    return vault, expected


def test_every_odd_file_is_accounted_for_and_nothing_hangs(tmp_path: Path):
    vault, expected = hostile_vault(tmp_path)
    with hang_guard(120):
        scan = scan_vault(vault)
        boilerplate = template_lines(vault, "Templates")
        cleaned = [plain_text(note.body) for note in scan.notes]
        redacted = [redact(note.body)[0] for note in scan.notes]
    assert scan.files_seen == len(expected)
    reasons = {skip.path: skip.reason for skip in scan.skipped}
    read = {note.path for note in scan.notes}
    for path, reason in expected.items():
        if reason is None:
            assert path in read, (path, reasons.get(path))
        else:
            assert reason in reasons[path], (path, reasons.get(path))
    assert boilerplate == frozenset()  # neither the FIFO nor the outside file is a template
    assert not any(OUTSIDE in text for text in cleaned + redacted + [str(n) for n in scan.notes])
    problems = {note.path: note.problem for note in scan.notes}
    assert "aliases" in (problems["bomb.md"] or "")
    assert "nested" in (problems["brackets.md"] or "")
    assert "characters" in (problems["deep.md"] or "")
    assert "nested" in (problems["dashes.md"] or "")
    assert max(len(note.title) for note in scan.notes) <= MAX_TITLE_CHARS


def test_the_hostile_vault_runs_through_the_assets_and_leaks_nothing(
    tmp_path: Path, forge_env: Path
):
    vault, expected = hostile_vault(tmp_path)
    with hang_guard(240):
        result = materialize_assets({"vault": str(vault)}, ["vault_notes", "reflection_examples"])
    assert result.success
    notes = metadata(result, "vault_notes")
    assert notes["files_seen"] == len(expected)
    assert notes["notes_parsed"] == sum(reason is None for reason in expected.values())
    assert metadata(result, "reflection_examples")["examples"] >= 1
    for path in forge_env.rglob("*"):
        if path.is_file() and not path.is_symlink():
            assert OUTSIDE.encode() not in path.read_bytes(), path


def test_an_alias_bomb_is_refused_before_it_expands():
    note = parse_note(ALIAS_BOMB, "bomb.md")
    assert note.meta == {} and "aliases" in (note.problem or "")
    assert note.title == "bomb" and GOOD in note.body


def test_anchors_in_quoted_text_are_not_aliases():
    note = parse_note('---\ntitle: "A *bold* start"\ntags: [a, b]\n---\nText', "n.md")
    assert note.title == "A *bold* start" and note.problem is None


def test_forge_home_inside_the_vault_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    vault = tmp_path / "notes"
    vault.mkdir()
    monkeypatch.setenv("FORGE_VAULT", str(vault))
    monkeypatch.setenv("FORGE_HOME", str(vault / ".forge"))
    with pytest.raises(ConfigError, match="inside the vault"):
        load_settings()
