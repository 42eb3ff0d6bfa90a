"""Parsed notes as a Parquet table, and back."""

from pathlib import Path

import pandas as pd

from forge_pipeline.lib.artifacts import atomic_file
from forge_pipeline.lib.vault import Note, Stamp

COLUMNS = ["path", "title", "date", "tags", "body", "sha256", "problem", "size", "mtime_ns"]


def notes_frame(notes: list[Note]) -> pd.DataFrame:
    """One row per note, with the stamp that lets a re-run skip unchanged files."""
    return pd.DataFrame(
        [
            {
                "path": n.path,
                "title": n.title,
                "date": n.date,
                "tags": n.tags,
                "body": n.body,
                "sha256": n.sha256,
                "problem": n.problem,
                "size": n.stamp.size if n.stamp else -1,
                "mtime_ns": n.stamp.mtime_ns if n.stamp else -1,
            }
            for n in notes
        ],
        columns=COLUMNS,
    )


def write_notes(path: Path, frame: pd.DataFrame) -> None:
    """Write the table in one atomic replace."""
    with atomic_file(path) as tmp:
        frame.to_parquet(tmp, index=False)


def read_notes(path: Path) -> list[Note]:
    """The notes of a table written by write_notes."""
    frame = pd.read_parquet(path)
    missing = set(COLUMNS) - set(frame.columns)
    if missing:
        raise ValueError(f"{path} lacks columns {sorted(missing)}; re-materialize vault_notes.")
    return [
        Note(
            path=r.path,
            title=r.title,
            date=_optional(r.date),
            tags=list(r.tags),
            body=r.body,
            sha256=r.sha256,
            problem=_optional(r.problem),
            stamp=Stamp(int(r.size), int(r.mtime_ns)),
        )
        for r in frame.itertuples(index=False)
    ]


def _optional(value: object) -> str | None:
    # pandas reads missing strings back as NaN; the notes keep None.
    return None if value is None or pd.isna(value) else str(value)
