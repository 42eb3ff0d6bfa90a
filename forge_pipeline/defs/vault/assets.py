"""vault_notes: every Markdown note of the vault, parsed into Parquet (incrementally)."""

import hashlib
from collections import Counter

import dagster as dg
import pandas as pd

from forge_pipeline.defs.resources import ForgeResource
from forge_pipeline.lib.artifacts import atomic_file, sha256_file
from forge_pipeline.lib.tables import markdown_table
from forge_pipeline.lib.vault import Note, Stamp, scan_vault

COLUMNS = ["path", "title", "date", "tags", "body", "sha256", "problem", "size", "mtime_ns"]


@dg.asset(group_name="vault", kinds={"markdown", "parquet"})
def vault_notes(context: dg.AssetExecutionContext, forge: ForgeResource) -> dg.MaterializeResult:
    """Every note of the vault (read-only) with frontmatter, tags, date, title and body."""
    settings = forge.settings()
    target = forge.layout().notes
    scan = scan_vault(settings.vault, settings.parsing, previous_notes(target))
    for skipped in scan.skipped:
        context.log.debug(f"Skipped {skipped.path}: {skipped.reason}")
    frame = pd.DataFrame([_row(note) for note in scan.notes], columns=COLUMNS)
    with atomic_file(target) as tmp:
        frame.to_parquet(tmp, index=False)
    problems = [(n.path, n.problem) for n in scan.notes if n.problem]
    reasons = Counter(s.reason.split(" (byte")[0] for s in scan.skipped)
    dates = sorted(d for d in frame["date"].dropna())
    return dg.MaterializeResult(
        metadata={
            "vault": dg.MetadataValue.path(str(settings.vault)),
            "path": dg.MetadataValue.path(str(target)),
            "files_seen": scan.files_seen,
            "notes_parsed": len(scan.notes),
            "notes_read_this_run": len(scan.notes) - scan.notes_reused,
            "notes_reused": scan.notes_reused,
            "notes_skipped": len(scan.skipped),
            "notes_with_problems": len(problems),
            "skipped_by_reason": dg.MetadataValue.md(
                markdown_table(["reason", "files"], reasons.most_common())
            ),
            "skipped_files": dg.MetadataValue.md(
                markdown_table(["file", "reason"], [(s.path, s.reason) for s in scan.skipped])
            ),
            "problems": dg.MetadataValue.md(markdown_table(["file", "problem"], problems)),
            "first_date": dates[0] if dates else "",
            "last_date": dates[-1] if dates else "",
            "bytes": target.stat().st_size,
            "sha256": sha256_file(target),
        },
        data_version=dg.DataVersion(_content_version(frame)),
    )


def previous_notes(target) -> dict[str, tuple[Stamp, Note]]:
    """The notes of the last materialization with their stamps, to skip unchanged files."""
    if not target.exists():
        return {}
    try:
        frame = pd.read_parquet(target)
    except (OSError, ValueError):
        return {}  # an unreadable previous file only costs a full re-parse
    if not set(COLUMNS) <= set(frame.columns):
        return {}
    previous = {}
    for row in frame.itertuples(index=False):
        stamp = Stamp(int(row.size), int(row.mtime_ns))
        note = Note(
            path=row.path,
            title=row.title,
            date=row.date,
            tags=list(row.tags),
            body=row.body,
            sha256=row.sha256,
            problem=row.problem,
            stamp=stamp,
        )
        previous[row.path] = (stamp, note)
    return previous


def _row(note: Note) -> dict[str, object]:
    stamp = note.stamp
    return {
        "path": note.path,
        "title": note.title,
        "date": note.date,
        "tags": note.tags,
        "body": note.body,
        "sha256": note.sha256,
        "problem": note.problem,
        "size": stamp.size if stamp else -1,
        "mtime_ns": stamp.mtime_ns if stamp else -1,
    }


def _content_version(frame: pd.DataFrame) -> str:
    """A version that changes only when some note's path or content does."""
    digest = hashlib.sha256()
    for path, sha in sorted(zip(frame["path"], frame["sha256"], strict=True)):
        digest.update(f"{path}:{sha}\n".encode())
    return digest.hexdigest()[:16]
