"""What went into a model version (paths and hashes, never note text), and which versions hold
a note the person took back."""

from pathlib import Path
from typing import Any

from forge_pipeline.lib.core.artifacts import sha256_file
from forge_pipeline.lib.core.config import Settings
from forge_pipeline.lib.core.jsonl import read_jsonl
from forge_pipeline.lib.core.layout import Layout
from forge_pipeline.lib.dataset.forgetting import Forgotten, load_forgotten
from forge_pipeline.lib.vault.notes_store import NotesTableError, read_table, values
from forge_pipeline.serving.registry import ModelRegistry, RegistryError, Removal

NO_PROVENANCE = "made before Forge recorded what went into a version"


def provenance(layout: Layout, settings: Settings, evaluation: dict[str, Any]) -> dict[str, Any]:
    """The source notes (path: sha256), example ids, counts, dates, input hashes and settings."""
    train, val = read_jsonl(layout.train), read_jsonl(layout.val)
    examples = train + val
    sources = {e["source_file"] for e in examples}
    table = read_table(layout.notes, ["path", "sha256"])
    notes = {
        path: sha
        for path, sha in zip(values(table["path"]), values(table["sha256"]), strict=True)
        if path in sources
    }
    dates = sorted(e["date"] for e in examples if e.get("date"))
    return {
        "notes": dict(sorted(notes.items())),
        "datasets": {
            file.name: sha256_file(file)
            for file in settings.datasets.files
            if file.exists() and any(s.startswith(f"{file.name}#") for s in sources)
        },
        "example_ids": sorted(e["id"] for e in examples),
        "counts": {"notes": len(notes), "train_examples": len(train), "val_examples": len(val)},
        "date_range": [dates[0], dates[-1]] if dates else None,
        "inputs_sha256": {
            "train": sha256_file(layout.train),
            "val": sha256_file(layout.val),
            "review_file": _sha_or_none(settings.curation.review_file),
            "forget_file": _sha_or_none(settings.curation.forget_file),
        },
        "base_model": settings.base_model,
        "settings": settings.model_dump(mode="json"),
        "evaluation": evaluation,
    }


def summary(manifest: dict[str, Any]) -> dict[str, Any]:
    """A version's provenance in a few figures: notes, examples, dates (or why there are none)."""
    found = manifest.get("provenance")
    if not isinstance(found, dict):
        return {"notes": NO_PROVENANCE}
    counts, dates = found["counts"], found["date_range"]
    return {
        "notes": counts["notes"],
        "train_examples": counts["train_examples"],
        "val_examples": counts["val_examples"],
        "dates": f"{dates[0]} to {dates[1]}" if dates else "undated",
    }


def tagged_notes(layout: Layout, tags: set[str]) -> set[str]:
    """The vault notes that carry any of the tags, read from the notes table."""
    if not tags or not layout.notes.exists():
        return set()
    try:
        table = read_table(layout.notes, ["path", "tags"])
    except NotesTableError:
        return set()
    paths, note_tags = values(table["path"]), values(table["tags"])
    return {path for path, found in zip(paths, note_tags, strict=True) if tags & set(found)}


def versions_holding(
    registry: ModelRegistry, forgotten: Forgotten, tagged: set[str]
) -> dict[str, str]:
    """Every version trained on a forgotten note, tag or example, with why."""
    holding: dict[str, str] = {}
    for version in registry.versions():
        try:
            found = registry.manifest(version).get("provenance")
        except RegistryError:
            found = None
        if not isinstance(found, dict):
            holding[version] = NO_PROVENANCE  # it may hold anything: it goes too
            continue
        notes = [p for p in found["notes"] if forgotten.names_note(p) or p in tagged]
        ids = forgotten.examples & set(found["example_ids"])
        if notes or ids:
            holding[version] = ", ".join([*notes[:3], *sorted(ids)[:3]])
    return holding


def forgotten_versions(registry: ModelRegistry, settings: Settings) -> dict[str, str]:
    """The versions that hold anything in the forget file, with why."""
    forgotten = load_forgotten(settings.curation.forget_file)
    if not forgotten:
        return {}
    return versions_holding(registry, forgotten, tagged_notes(Layout(settings), forgotten.tags))


def remove_forgotten(registry: ModelRegistry, settings: Settings) -> Removal:
    """Delete every version that holds a forgotten note; the served one waits for a successor."""
    return registry.remove(set(forgotten_versions(registry, settings)))


def _sha_or_none(path: Path) -> str | None:
    return sha256_file(path) if path.exists() else None
