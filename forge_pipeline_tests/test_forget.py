"""`forge forget` end to end with the tiny model: a note taken back leaves model and registry.

Does not touch: the default SmolLM2 model, Docker, a running server (the CLI finds none).
"""

import json
from collections import Counter
from pathlib import Path

import dagster as dg
from typer.testing import CliRunner

from forge_pipeline.cli import app
from forge_pipeline.lib.core.artifacts import sha256_file
from forge_pipeline.lib.core.jsonl import read_jsonl
from forge_pipeline.lib.evaluation.generation import recalls
from forge_pipeline.lib.export.gguf_export import cached_gguf
from forge_pipeline.serving.registry import ModelRegistry
from forge_pipeline_tests.helpers import SHARED_CACHE, materialize_assets, metadata, tiny_overrides


def forge(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())  # rich wraps long lines


def remembered(home: Path) -> set[str]:
    """The models whose answers or val scores are kept for the next run."""
    memos = (
        home / "artifacts" / "model_evaluation" / "answers.json",
        home / "artifacts" / "gguf_model-scores" / "val_nll.json",
    )
    return {sha for path in memos for sha in json.loads(path.read_text())}


def test_a_forgotten_note_leaves_training_and_every_version_trained_on_it(
    tiny_model: Path, forge_env: Path
):
    instance = dg.DagsterInstance.ephemeral()  # the second run sees the first's adapter
    first = materialize_assets(tiny_overrides(tiny_model), instance=instance)
    assert first.success
    registry = ModelRegistry(forge_env / "registry")
    made_of = registry.manifest("v0001")["provenance"]
    train = read_jsonl(forge_env / "artifacts" / "curated_dataset" / "train.jsonl")
    note, examples = Counter(e["source_file"] for e in train).most_common(1)[0]
    assert note in made_of["notes"] and len(made_of["notes"][note]) == 64
    assert made_of["counts"]["train_examples"] == len(train)
    assert "v0001 (current)" in forge("versions")
    first_sha = sha256_file(registry.current_model())
    assert first_sha in remembered(forge_env)  # the next run reads its answers and scores

    said = forge("forget", note)
    assert f"Forgot {note}: {examples} example(s) of the current training set" in said
    assert "v0001 holds it and still serves" in said
    assert registry.current_version() == "v0001"  # no gap: it serves until a successor deploys
    assert forge("forget", "--list") == note

    second = materialize_assets(tiny_overrides(tiny_model), instance=instance)
    assert second.success
    # Never warm: continuing an adapter trained on the note would keep what it learned from it.
    assert metadata(second, "lora_adapter")["start"] == (
        f"from scratch: {examples} train examples changed or removed since the current adapter"
    )
    assert metadata(second, "curated_dataset")["dropped_forgotten"] == examples
    assert metadata(second, "deployed_model")["deleted_as_forgotten"] == "v0001"
    assert registry.versions() == [registry.current_version()] == ["v0002"]
    assert registry.previous_version() is None
    assert first_sha not in remembered(forge_env)  # nothing said by it is kept
    manifests = list((forge_env / "registry").rglob("manifest.json"))
    assert manifests and not any(note in path.read_text() for path in manifests)
    kept = read_jsonl(forge_env / "artifacts" / "curated_dataset" / "train.jsonl")
    assert kept and all(e["source_file"] != note for e in kept)
    assert "made of: notes" in forge("status")
    # What is served now says no more of the forgotten note, word for word, than the base does.
    theirs = [e for e in train if e["source_file"] == note]
    base = cached_gguf(tiny_model, SHARED_CACHE, "q8_0", SHARED_CACHE / "tools")
    recited = [
        max((r.verbatim for r in recalls(model, theirs, 8, 24, 1)), default=0)
        for model in (registry.current_model(), base)
    ]
    assert recited[0] <= recited[1] + 2, recited

    assert "no longer forgotten" in forge("forget", "--undo", note)
    assert forge("forget", "--list").startswith("Nothing is forgotten")
