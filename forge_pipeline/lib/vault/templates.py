"""The vault's note templates: a line a template wrote is boilerplate, not a reflection."""

import re
from pathlib import Path

from forge_pipeline.lib.vault.parse import parse_note

_LINE_MARKER = re.compile(r"^\s*(?:[-*+]\s+(?:\[.\]\s*)?|\d+\.\s+|>\s*)")
_WORD = re.compile(r"\w")
PLACEHOLDER = re.compile(r"\{\{.*?\}\}|<%.*?%>")  # Obsidian Templates and Templater syntax


def template_lines(vault: Path, folder: str) -> frozenset[str]:
    """The text lines of every Markdown template under vault/folder (read-only); none if absent."""
    root = vault / folder
    if not folder or not root.is_dir():
        return frozenset()
    lines: set[str] = set()
    for path in sorted(root.rglob("*.md")):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue  # an unreadable template only means its lines are kept in notes
        body = parse_note(text, path.name).body
        lines.update(filter(None, map(comparable_line, body.splitlines())))
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
