"""vault_notes: every Markdown note of the vault, parsed into Parquet."""

import hashlib

import dagster as dg
import pandas as pd

from forge_pipeline.defs.resources import ForgeResource
from forge_pipeline.lib.artifacts import atomic_file, sha256_file
from forge_pipeline.lib.tables import markdown_table
from forge_pipeline.lib.vault import scan_vault


@dg.asset(group_name="vault", kinds={"markdown", "parquet"})
def vault_notes(context: dg.AssetExecutionContext, forge: ForgeResource) -> dg.MaterializeResult:
    """Every note of the vault (read-only) with frontmatter, tags, date, title and body."""
    settings = forge.settings()
    scan = scan_vault(settings.vault)
    for skipped in scan.skipped:
        context.log.warning(f"Skipped {skipped.path}: {skipped.reason}")
    frame = pd.DataFrame(
        [
            {
                "path": n.path,
                "title": n.title,
                "date": n.date,
                "tags": n.tags,
                "body": n.body,
                "sha256": n.sha256,
                "problem": n.problem,
            }
            for n in scan.notes
        ],
        columns=["path", "title", "date", "tags", "body", "sha256", "problem"],
    )
    target = forge.layout().notes
    with atomic_file(target) as tmp:
        frame.to_parquet(tmp, index=False)
    problems = [(n.path, n.problem) for n in scan.notes if n.problem]
    dates = sorted(d for d in frame["date"].dropna())
    return dg.MaterializeResult(
        metadata={
            "vault": dg.MetadataValue.path(str(settings.vault)),
            "path": dg.MetadataValue.path(str(target)),
            "files_seen": scan.files_seen,
            "notes_parsed": len(scan.notes),
            "notes_skipped": len(scan.skipped),
            "notes_with_problems": len(problems),
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


def _content_version(frame: pd.DataFrame) -> str:
    """A version that changes only when some note's path or content does."""
    digest = hashlib.sha256()
    for path, sha in sorted(zip(frame["path"], frame["sha256"], strict=True)):
        digest.update(f"{path}:{sha}\n".encode())
    return digest.hexdigest()[:16]
