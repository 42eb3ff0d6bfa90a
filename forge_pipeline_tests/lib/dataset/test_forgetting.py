"""The forget file: what `forge forget` records, how entries are read, which examples they drop.

Does not touch: the registry (see serving/test_provenance.py), Dagster, models.
"""

from pathlib import Path

import pytest

from forge_pipeline.lib.core.config import Curation
from forge_pipeline.lib.dataset.curation import curate
from forge_pipeline.lib.dataset.forgetting import (
    ForgetError,
    Forgotten,
    forget,
    kind_of,
    load_forgotten,
    normalized,
    unforget,
)


def example(source: str, tags: list[str], id_: str = "0123456789ab") -> dict:
    return {
        "id": id_,
        "messages": [
            {"role": "user", "content": "What was on my mind?"},
            {"role": "assistant", "content": f"I kept thinking about {source} all evening."},
        ],
        "source_file": source,
        "tags": tags,
    }


def test_an_item_is_a_tag_an_example_id_or_a_note_path():
    assert kind_of("#Health") == "tags"
    assert kind_of("3f2a9c1b0d4e") == "examples"
    assert kind_of("Daily/2024-01-05.md") == "notes"
    assert kind_of("3f2a9c1b0d4e.md") == "notes"


def test_paths_are_kept_relative_to_the_vault_and_folders_end_with_a_slash(tmp_path: Path):
    vault = tmp_path / "vault"
    (vault / "Therapy").mkdir(parents=True)
    (vault / "Therapy" / "session.md").write_text("I said it out loud.")
    assert normalized(str(vault / "Therapy" / "session.md"), vault) == "Therapy/session.md"
    assert normalized("./Therapy", vault) == "Therapy/"
    assert normalized("Gone/deleted-note.md", vault) == "Gone/deleted-note.md"  # forgotten anyway
    assert normalized("#Health", vault) == "health"
    with pytest.raises(ForgetError, match="outside the vault"):
        normalized(str(tmp_path / "elsewhere.md"), vault)
    with pytest.raises(ForgetError, match="whole vault"):
        normalized(".", vault)


def test_forget_and_undo_round_trip_through_the_file(tmp_path: Path):
    path = tmp_path / "forgotten.yaml"
    assert not load_forgotten(path)
    assert forget(path, "Daily/2024-01-05.md", "notes")
    assert not forget(path, "Daily/2024-01-05.md", "notes")  # already there
    assert forget(path, "health", "tags") and forget(path, "3f2a9c1b0d4e", "examples")
    assert load_forgotten(path).items() == ["Daily/2024-01-05.md", "#health", "3f2a9c1b0d4e"]
    assert path.read_text().startswith("# Written by `forge forget`")
    assert unforget(path, "health", "tags")
    assert not unforget(path, "health", "tags")
    assert load_forgotten(path).items() == ["Daily/2024-01-05.md", "3f2a9c1b0d4e"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("notes: [a.md\n", "not valid YAML"),
        ("notes: [a.md]\nwhy: x\n", "may hold only"),
        ("tags: health\n", "must each be a list"),
    ],
)
def test_a_broken_forget_file_says_what_to_fix(tmp_path: Path, text: str, message: str):
    path = tmp_path / "forgotten.yaml"
    path.write_text(text)
    with pytest.raises(ForgetError, match=message):
        load_forgotten(path)


def test_examples_match_by_note_folder_tag_or_id():
    forgotten = Forgotten(
        notes={"Therapy/", "Daily/2024-01-05.md"}, tags={"health"}, examples={"aaaaaaaaaaaa"}
    )
    assert forgotten.matches(example("Therapy/session.md", []))
    assert forgotten.matches(example("Daily/2024-01-05.md", []))
    assert forgotten.matches(example("Daily/2024-01-06.md", ["Health"]))
    assert forgotten.matches(example("Daily/2024-01-06.md", [], "aaaaaaaaaaaa"))
    assert not forgotten.matches(example("Daily/2024-01-06.md", ["work"]))
    assert not forgotten.matches(example("TherapyNotes/other.md", []))  # a folder, not a prefix


def test_curation_drops_forgotten_examples_and_counts_them():
    examples = [example(f"Daily/2024-01-{day:02d}.md", [], f"{day:012d}") for day in range(1, 9)]
    forgotten = Forgotten(notes={"Daily/2024-01-03.md"}, examples={f"{5:012d}"})
    curated = curate(examples, Curation(min_tokens=1, val_fraction=0.2), _words, None, forgotten)
    kept = {e["source_file"] for e in curated.train + curated.val}
    assert curated.dropped["forgotten"] == 2
    assert "Daily/2024-01-03.md" not in kept and "Daily/2024-01-05.md" not in kept
    assert len(kept) == 6


def _words(example: dict) -> tuple[int, int]:
    counts = [len(m["content"].split()) for m in example["messages"]]
    return counts[-1], sum(counts)
