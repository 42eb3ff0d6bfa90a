"""JSON Lines files, written atomically."""

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from forge_pipeline.lib.core.artifacts import atomic_file


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> int:
    """Write rows as JSON Lines in one atomic replace; return the row count."""
    count = 0
    with atomic_file(path) as tmp, tmp.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    return count


def write_lines(path: Path, lines: list[str]) -> None:
    """Write already-encoded JSON lines in one atomic replace."""
    with atomic_file(path) as tmp, tmp.open("w", encoding="utf-8") as handle:
        handle.writelines(line + "\n" for line in lines)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """All rows of a JSON Lines file."""
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def count_lines(path: Path) -> int:
    """Examples in a JSONL file."""
    with path.open("rb") as handle:
        return sum(1 for line in handle if line.strip())
