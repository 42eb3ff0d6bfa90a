"""vault_notes: every Markdown note of the vault, parsed into Parquet (incrementally)."""

import hashlib
from collections import Counter
from pathlib import Path

import dagster as dg
import pandas as pd

from forge_pipeline.defs.resources import ForgeResource
from forge_pipeline.lib.artifacts import sha256_file
from forge_pipeline.lib.layout import Layout
from forge_pipeline.lib.notes_store import notes_frame, read_notes, write_notes
from forge_pipeline.lib.tables import markdown_table
from forge_pipeline.lib.vault import Note, Stamp, scan_vault


@dg.asset(group_name="vault", kinds={"markdown", "parquet"})
def vault_notes(context: dg.AssetExecutionContext, forge: ForgeResource) -> dg.MaterializeResult:
    """Every note of the vault (read-only) with frontmatter, tags, date, title and body."""
    settings = forge.settings()
    target = Layout(settings).notes
    scan = scan_vault(settings.vault, settings.parsing, previous_notes(target))
    for skipped in scan.skipped:
        context.log.debug(f"Skipped {skipped.path}: {skipped.reason}")
    frame = notes_frame(scan.notes)
    write_notes(target, frame)
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


def previous_notes(target: Path) -> dict[str, tuple[Stamp, Note]]:
    """The notes of the last materialization with their stamps, to skip unchanged files."""
    if not target.exists():
        return {}
    try:
        return {n.path: (n.stamp, n) for n in read_notes(target) if n.stamp}
    except (OSError, ValueError):
        return {}  # an unreadable previous table only costs a full re-parse


def _content_version(frame: pd.DataFrame) -> str:
    """A version that changes only when some note's path or content does."""
    digest = hashlib.sha256()
    for path, sha in sorted(zip(frame["path"], frame["sha256"], strict=True)):
        digest.update(f"{path}:{sha}\n".encode())
    return digest.hexdigest()[:16]
