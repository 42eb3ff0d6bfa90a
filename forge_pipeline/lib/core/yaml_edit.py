"""Change one value in forge.yaml in place, keeping the user's comments and layout."""

import json
import re
from typing import Any


def set_value(text: str, dotted: str, value: Any) -> str:
    """The YAML text with `section.key` (or a top-level `key`) set; missing keys are added."""
    *section, key = dotted.split(".")
    if len(section) > 1:
        raise ValueError(f"{dotted}: only top-level keys and keys one section deep are edited")
    rendered = json.dumps(value)  # a JSON scalar is a valid YAML scalar
    lines = text.splitlines(keepends=True)
    start, end, indent = 0, len(lines), ""
    if section:
        header = re.compile(rf"^{re.escape(section[0])}:\s*(#.*)?$")
        found = next((i for i, line in enumerate(lines) if header.match(line)), None)
        if found is None:
            tail = "" if not text or text.endswith("\n") else "\n"
            return f"{text}{tail}{section[0]}:\n  {key}: {rendered}\n"
        start, indent = found + 1, "  "
        end = next((i for i in range(start, len(lines)) if re.match(r"^\S", lines[i])), len(lines))
    scalar = r"(?:\"[^\"]*\"|'[^']*'|[^#\n]*?)"
    pattern = re.compile(rf"^{indent}{re.escape(key)}:[ \t]*{scalar}([ \t]+#.*)?$")
    for i in range(start, end):
        if match := pattern.match(lines[i].rstrip("\n")):
            comment = match.group(1) or ""
            lines[i] = f"{indent}{key}: {rendered}{comment}\n"
            return "".join(lines)
    while end > start and not lines[end - 1].strip():
        end -= 1  # after the section's last line, not after the blank line that follows it
    lines.insert(end, f"{indent}{key}: {rendered}\n")
    return "".join(lines)
