"""vault_notes as a Dagster asset: a re-run reads only changed notes and keeps its data version.

Does not touch: any stage after vault_notes.
"""

import shutil
from pathlib import Path

import dagster as dg

from forge_pipeline.defs.resources import ForgeResource
from forge_pipeline.defs.vault.assets import vault_notes
from forge_pipeline_tests.conftest import SAMPLE_VAULT


def materialize(vault: Path) -> tuple[dict, str]:
    """Materialize vault_notes alone; its metadata and data version."""
    result = dg.materialize(
        [vault_notes], resources={"forge": ForgeResource(overrides={"vault": str(vault)})}
    )
    event = result.asset_materializations_for_node("vault_notes")[0]
    meta = {k: getattr(v, "value", v) for k, v in event.metadata.items()}
    return meta, event.tags["dagster/data_version"]


def test_rerun_reads_only_what_changed(tmp_path: Path):
    vault = tmp_path / "vault"
    shutil.copytree(SAMPLE_VAULT, vault)
    first, first_version = materialize(vault)
    assert first["notes_read_this_run"] == first["notes_parsed"] == 140
    again, again_version = materialize(vault)
    assert again["notes_read_this_run"] == 0 and again["notes_reused"] == 140
    assert again_version == first_version

    (vault / "Daily" / "2026-01-05.md").write_text("# Changed\nI realize it changed.\n")
    changed, changed_version = materialize(vault)
    assert changed["notes_read_this_run"] == 1
    assert changed_version != first_version
