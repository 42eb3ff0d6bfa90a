"""The vault's note templates: a line a template wrote is boilerplate, not a reflection."""

import re
from pathlib import Path

from forge_pipeline.lib.core.config import Parsing
from forge_pipeline.lib.vault.scan import scan_vault

_LINE_MARKER = re.compile(r"^\s*(?:[-*+]\s+(?:\[.\]\s*)?|\d+\.\s+|>\s*)")
_WORD = re.compile(r"\w")
PLACEHOLDER = re.compile(
    r"\{\{.{0,300}?\}\}|<%.{0,300}?%>"
)  # Obsidian Templates and Templater syntax


def template_lines(vault: Path, folder: str, rules: Parsing | None = None) -> frozenset[str]:
    """The text lines of every Markdown template under vault/folder (read-only); none if absent.

    Templates are read as notes are (regular files inside the vault, within the size cap); an
    unreadable template only means its lines are kept in notes.
    """
    root = vault / folder
    if not folder or not root.is_dir() or not root.resolve().is_relative_to(vault.resolve()):
        return frozenset()
    lines: set[str] = set()
    for note in scan_vault(root, rules).notes:
        lines.update(filter(None, map(comparable_line, note.body.splitlines())))
    return frozenset(lines)


def comparable_line(line: str) -> str:
    """A line as a template wrote it, less list marker and checkbox; empty for headers and fills."""
    text = _LINE_MARKER.sub("", line).strip()
    if text.startswith("#") or PLACEHOLDER.search(text) or not _WORD.search(text):
        return ""  # headers mark reflection sections; a placeholder line was filled in per note
    return text


def without_template_lines(body: str, boilerplate: frozenset[str]) -> str:
    """The body less every line that a template wrote."""
    if not any(line in body for line in boilerplate):
        return body  # most notes: a few substring checks instead of comparing every line
    lines = body.split("\n")
    return "\n".join(line for line in lines if comparable_line(line) not in boilerplate)
