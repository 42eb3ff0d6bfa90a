"""Provenance in the registry: which versions hold a forgotten note, and removing them.

Does not touch: training (see test_forget.py for the whole chain), llama.cpp, Dagster.
"""

from pathlib import Path

from forge_pipeline.lib.dataset.forgetting import Forgotten
from forge_pipeline.serving.provenance import NO_PROVENANCE, summary, versions_holding
from forge_pipeline.serving.registry import ModelRegistry


def made_of(notes: list[str], ids: list[str] = ()) -> dict:
    return {
        "notes": {n: "0" * 64 for n in notes},
        "example_ids": list(ids),
        "counts": {"notes": len(notes), "train_examples": 3, "val_examples": 1},
        "date_range": ["2024-01-01", "2024-03-31"],
    }


def registry_of(tmp_path: Path, *versions: dict | None) -> ModelRegistry:
    """A registry with one version per provenance given (None: an old version without one)."""
    registry = ModelRegistry(tmp_path / "registry")
    for number, found in enumerate(versions):
        model = tmp_path / "model.gguf"
        model.write_bytes(b"GGUF" + bytes([number]))
        info = {"provenance": found} if found else {}
        registry.activate(registry.register([model], "model.gguf", info)["version"])
    return registry


def test_versions_holding_a_note_a_folder_a_tagged_note_or_an_example(tmp_path: Path):
    registry = registry_of(
        tmp_path,
        None,
        made_of(["Daily/2024-01-01.md", "Therapy/one.md"]),
        made_of(["Daily/2024-01-01.md"], ["aaaaaaaaaaaa"]),
        made_of(["Daily/2024-01-02.md"]),
    )
    holding = versions_holding(registry, Forgotten(notes={"Therapy/"}), set())
    assert holding == {"v0001": NO_PROVENANCE, "v0002": "Therapy/one.md"}
    by_id = versions_holding(registry, Forgotten(examples={"aaaaaaaaaaaa"}), set())
    assert set(by_id) == {"v0001", "v0003"}
    by_tag = versions_holding(registry, Forgotten(tags={"health"}), {"Daily/2024-01-02.md"})
    assert set(by_tag) == {"v0001", "v0004"}


def test_removing_the_current_version_moves_current_and_previous_to_clean_ones(tmp_path: Path):
    registry = registry_of(tmp_path, made_of(["a.md"]), made_of(["b.md"]), made_of(["c.md"]))
    removal = registry.remove({"v0002", "v0003"})
    assert removal.deleted == ["v0002", "v0003"] and removal.still_serving is None
    assert registry.current_version() == removal.current == "v0001"
    assert registry.previous_version() is None
    assert registry.versions() == ["v0001"]
    assert registry.current_model().exists()


def test_a_current_version_with_no_clean_successor_keeps_serving(tmp_path: Path):
    registry = registry_of(tmp_path, made_of(["a.md"]), made_of(["a.md", "b.md"]))
    removal = registry.remove({"v0001", "v0002"})
    assert removal.deleted == ["v0001"] and removal.still_serving == "v0002"
    assert registry.current_version() == "v0002" and registry.current_model().exists()
    assert registry.previous_version() is None


def test_previous_moves_to_the_newest_clean_version_below_current(tmp_path: Path):
    registry = registry_of(tmp_path, *(made_of([f"{n}.md"]) for n in "abcd"))
    removal = registry.remove({"v0003"})
    assert removal.deleted == ["v0003"]
    assert registry.current_version() == "v0004" and registry.previous_version() == "v0002"


def test_summary_in_figures_or_why_there_are_none():
    assert summary({"provenance": made_of(["a.md", "b.md"])}) == {
        "notes": 2,
        "train_examples": 3,
        "val_examples": 1,
        "dates": "2024-01-01 to 2024-03-31",
    }
    assert summary({}) == {"notes": NO_PROVENANCE}
