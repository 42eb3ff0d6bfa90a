"""vault_notes: every Markdown note of the vault, parsed into an Arrow file (incrementally)."""

from collections import Counter

import dagster as dg

from forge_pipeline.defs.resources import ForgeResource
from forge_pipeline.lib.core.layout import Layout
from forge_pipeline.lib.core.tables import markdown_table
from forge_pipeline.lib.vault.notes_store import content_version, read_table
from forge_pipeline.lib.vault.scan import refresh_notes


@dg.asset(group_name="vault", kinds={"markdown", "arrow"})
def vault_notes(context: dg.AssetExecutionContext, forge: ForgeResource) -> dg.MaterializeResult:
    """Every note of the vault (read-only) with frontmatter, tags, date, title and body."""
    settings = forge.settings()
    target = Layout(settings).notes
    scan = refresh_notes(settings.vault, settings.parsing, target)
    if scan.skipped:  # one line, not one event per file: each run would store them all again
        context.log.info(f"Skipped {len(scan.skipped)} files; skipped_files lists each and why.")
    table = read_table(target, ["path", "date", "sha256", "problem"])
    problems = [
        (path, problem)
        for path, problem in zip(
            table["path"].to_pylist(), table["problem"].to_pylist(), strict=True
        )
        if problem
    ]
    reasons = Counter(s.reason.split(" (byte")[0] for s in scan.skipped)
    dates = sorted(d for d in table["date"].to_pylist() if d)
    return dg.MaterializeResult(
        metadata={
            "vault": dg.MetadataValue.path(str(settings.vault)),
            "path": dg.MetadataValue.path(str(target)),
            "files_seen": scan.files_seen,
            "notes_parsed": table.num_rows,
            "notes_read_this_run": scan.table.num_rows,
            "notes_reused": len(scan.reused),
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
        },
        data_version=dg.DataVersion(content_version(table)),
    )
