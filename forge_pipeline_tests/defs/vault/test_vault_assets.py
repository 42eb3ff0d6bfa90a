"""vault_notes and reflection_examples as assets: re-runs read only what changed.

Does not touch: any stage after vault_notes.
"""

import shutil
from pathlib import Path

from bench.synthetic_vault import generate
from forge_pipeline_tests.helpers import SAMPLE_VAULT, materialize_assets, metadata


def materialize(vault: Path) -> tuple[dict, str]:
    """Materialize vault_notes alone; its metadata and data version."""
    result = materialize_assets({"vault": str(vault)}, ["vault_notes"])
    event = result.asset_materializations_for_node("vault_notes")[0]
    return metadata(result, "vault_notes"), event.tags["dagster/data_version"]


def test_rerun_reads_only_what_changed(tmp_path: Path):
    vault = tmp_path / "vault"
    shutil.copytree(SAMPLE_VAULT, vault)
    first, first_version = materialize(vault)
    assert first["notes_read_this_run"] == first["notes_parsed"] == 153
    again, again_version = materialize(vault)
    assert again["notes_read_this_run"] == 0 and again["notes_reused"] == 153
    assert again_version == first_version

    (vault / "Daily" / "2026-01-05.md").write_text("# Changed\nI realize it changed.\n")
    changed, changed_version = materialize(vault)
    assert changed["notes_read_this_run"] == 1
    assert changed_version != first_version


def test_synthetic_vault_every_file_accounted_for_and_extraction_incremental(tmp_path: Path):
    vault = tmp_path / "vault"
    counts = generate(vault, 400)
    overrides, assets = {"vault": str(vault)}, ["vault_notes", "reflection_examples"]
    first = materialize_assets(overrides, assets)
    notes = metadata(first, "vault_notes")
    assert notes["files_seen"] == notes["notes_parsed"] + notes["notes_skipped"]
    # Every generated file, plus the two templates and .obsidian settings, is seen.
    assert notes["files_seen"] == sum(counts.values()) + 3
    assert (
        metadata(first, "reflection_examples")["notes_extracted_this_run"] == notes["notes_parsed"]
    )

    changed = sorted((vault / "Daily").rglob("*.md"))[:4]
    for path in changed:
        path.write_text(path.read_text() + "\nLooking back, a change.\n")
    second = materialize_assets(overrides, assets)
    assert metadata(second, "vault_notes")["notes_read_this_run"] == 4
    assert metadata(second, "reflection_examples")["notes_extracted_this_run"] == 4
