"""When a warm start may begin, what it trains on, and when its result may replace the adapter.

Does not touch: the trainer, Dagster.
"""

import json
from pathlib import Path

from forge_pipeline.lib.training.warm_start import (
    WarmSet,
    content_hashes,
    read_trained_on,
    trained_on,
    warm_rejection,
    warm_set,
    write_warm_train,
)

PREVIOUS = {"train": {f"t{i}": f"h{i}" for i in range(10)}, "val": {"v0": "g0"}}


def grown(**extra: str) -> dict[str, dict[str, str]]:
    return {"train": {**PREVIOUS["train"], **extra}, "val": dict(PREVIOUS["val"])}


def test_a_set_that_only_grew_trains_the_new_examples_and_a_replay_of_the_old():
    chosen = warm_set(PREVIOUS, grown(n1="x", n2="y"), replay=3, seed=1)
    assert isinstance(chosen, WarmSet)
    assert chosen.new == ["n1", "n2"] and len(chosen.replayed) == 6 and chosen.size == 8
    assert set(chosen.replayed) <= set(PREVIOUS["train"])
    assert chosen == warm_set(PREVIOUS, grown(n1="x", n2="y"), replay=3, seed=1)
    assert chosen.describe() == "2 new examples + 6 replayed of the 10 already trained"


def test_the_replay_never_asks_for_more_old_examples_than_there_are():
    chosen = warm_set(PREVIOUS, grown(n1="x", n2="y"), replay=50, seed=1)
    assert isinstance(chosen, WarmSet) and sorted(chosen.replayed) == sorted(PREVIOUS["train"])


def test_a_changed_removed_or_held_out_change_means_from_scratch():
    changed = grown(n1="x")
    changed["train"]["t3"] = "edited"
    assert warm_set(PREVIOUS, changed, 4, 1) == (
        "1 train examples changed or removed since the current adapter"
    )
    removed = grown(n1="x")
    del removed["train"]["t3"]  # a deleted note, or one forgotten: the adapter cannot unlearn it
    assert warm_set(PREVIOUS, removed, 4, 1) == (
        "1 train examples changed or removed since the current adapter"
    )
    val_gone = grown(n1="x")
    val_gone["val"] = {}
    assert warm_set(PREVIOUS, val_gone, 4, 1) == (
        "1 val examples changed or removed since the current adapter"
    )
    assert warm_set(PREVIOUS, grown(), 4, 1) == "no new training examples since the current adapter"


def test_the_warm_file_keeps_the_chosen_examples_in_order(tmp_path: Path):
    train = tmp_path / "train.jsonl"
    rows = [{"id": f"e{i}", "messages": [{"role": "user", "content": str(i)}]} for i in range(5)]
    train.write_text("".join(json.dumps(r) + "\n" for r in rows))
    written = write_warm_train(train, WarmSet(["e3"], ["e0"], 4), tmp_path / "warm.jsonl")
    assert [json.loads(line)["id"] for line in written.read_text().splitlines()] == ["e0", "e3"]
    hashes = content_hashes(train)
    assert len(hashes) == 5 and len(set(hashes.values())) == 5
    assert trained_on(train, train) == {"train": hashes, "val": hashes}


def test_a_warm_result_replaces_the_adapter_only_below_it_and_below_the_base():
    assert (
        warm_rejection({"start_eval_loss": 3.0, "tuned_eval_loss": 2.9, "base_eval_loss": 4})
        is None
    )
    assert (
        warm_rejection({"start_eval_loss": 3.0, "tuned_eval_loss": 3.0, "base_eval_loss": 4})
        is None
    )
    worse = warm_rejection({"start_eval_loss": 3.0, "tuned_eval_loss": 3.1, "base_eval_loss": 4})
    assert worse == (
        "the warm start ended at val loss 3.1, where the current adapter has 3.0 "
        "and the base model 4"
    )
    assert warm_rejection({"start_eval_loss": 5, "tuned_eval_loss": 4.5, "base_eval_loss": 4})


def test_a_missing_or_broken_record_means_no_warm_start(tmp_path: Path):
    assert read_trained_on(tmp_path) is None
    for broken in ("{not json", "[1, 2]", '{"train": {}}'):
        (tmp_path / "trained_on.json").write_text(broken)
        assert read_trained_on(tmp_path) is None
    (tmp_path / "trained_on.json").write_text(json.dumps(PREVIOUS))
    assert read_trained_on(tmp_path) == PREVIOUS
