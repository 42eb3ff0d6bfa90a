"""JSON Lines files, written atomically."""

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from forge_pipeline.lib.core.artifacts import atomic_file


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> int:
    """Write rows as JSON Lines in one atomic replace; return the row count."""
    count = 0
    with atomic_file(path) as tmp, tmp.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    return count


def write_arrow_lines(path: Path, lines: pa.ChunkedArray) -> None:
    """Write JSON lines held in Arrow straight from its buffers, making no Python strings."""
    # Each line joined to an empty string by a newline: the line, then "\n".
    ended = pc.call_function("binary_join_element_wise", [lines, "", "\n"])
    with atomic_file(path) as tmp, tmp.open("wb") as handle:
        for chunk in ended.chunks:
            if len(chunk):
                _, offsets, data = chunk.buffers()
                first, last = chunk.offset, chunk.offset + len(chunk)
                bounds = memoryview(offsets).cast("i")  # a string array's int32 offsets
                handle.write(memoryview(data)[bounds[first] : bounds[last]])


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """All rows of a JSON Lines file."""
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def count_lines(path: Path) -> int:
    """Examples in a JSONL file."""
    with path.open("rb") as handle:
        return sum(1 for line in handle if line.strip())
