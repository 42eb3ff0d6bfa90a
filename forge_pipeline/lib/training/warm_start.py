"""Warm starts: when the curated set only grew, continue the current adapter on what is new.

The adapter records which examples it was trained on (ids and content hashes, never text). A
new set that keeps every one of them unchanged, train and val alike, and adds some, is trained
on the new examples plus a replayed sample of the old from that adapter. Anything changed,
removed or forgotten means training from scratch: an adapter cannot unlearn.
"""

import hashlib
import json
import random
from dataclasses import dataclass
from pathlib import Path

from forge_pipeline.lib.core.jsonl import read_jsonl, write_jsonl

TRAINED_ON = "trained_on.json"


@dataclass(frozen=True)
class WarmSet:
    """The examples a warm start trains on: the new ones and a replay of the old."""

    new: list[str]
    replayed: list[str]
    old_count: int

    @property
    def size(self) -> int:
        """Examples in the warm training file."""
        return len(self.new) + len(self.replayed)

    def describe(self) -> str:
        """The warm set in words."""
        return (
            f"{len(self.new)} new examples + {len(self.replayed)} replayed of the "
            f"{self.old_count} already trained"
        )


def content_hashes(path: Path) -> dict[str, str]:
    """Each example's id and a hash of its conversation, as trained."""
    return {
        example["id"]: hashlib.sha256(
            json.dumps(example["messages"], sort_keys=True).encode()
        ).hexdigest()[:16]
        for example in read_jsonl(path)
    }


def trained_on(train: Path, val: Path) -> dict[str, dict[str, str]]:
    """What an adapter trained on these files records: ids and hashes of both splits."""
    return {"train": content_hashes(train), "val": content_hashes(val)}


def read_trained_on(adapter: Path) -> dict[str, dict[str, str]] | None:
    """The record an adapter folder holds, or None (from before warm starts, or unreadable)."""
    try:
        record = json.loads((adapter / TRAINED_ON).read_text())
    except (OSError, ValueError):
        return None  # training from scratch is always safe
    ok = isinstance(record, dict) and all(isinstance(record.get(k), dict) for k in ("train", "val"))
    return record if ok else None


def warm_set(
    previous: dict[str, dict[str, str]], now: dict[str, dict[str, str]], replay: float, seed: int
) -> WarmSet | str:
    """The warm set if the data only grew since `previous`, else the reason to start afresh."""
    for split in ("train", "val"):
        before, after = previous[split], now[split]
        # An edited note gives new ids; an edit in review.yaml keeps the id, not the hash.
        lost = sum(1 for i, h in before.items() if after.get(i) != h)
        if lost:
            return f"{lost} {split} examples changed or removed since the current adapter"
    new = sorted(set(now["train"]) - set(previous["train"]))
    if not new:
        return "no new training examples since the current adapter"
    old = sorted(previous["train"])
    count = min(len(old), max(1, round(replay * len(new))))
    return WarmSet(new, sorted(random.Random(seed).sample(old, count)), len(old))


def write_warm_train(train: Path, chosen: WarmSet, target: Path) -> Path:
    """The warm set's examples, in the training file's own order, written to target."""
    keep = set(chosen.new) | set(chosen.replayed)
    write_jsonl(target, (example for example in read_jsonl(train) if example["id"] in keep))
    return target


def warm_rejection(metrics: dict) -> str | None:
    """Why a warm-started adapter may not replace the current one, or None when it may."""
    begun, tuned, base = (metrics[f"{k}_eval_loss"] for k in ("start", "tuned", "base"))
    if tuned <= begun and tuned < base:
        return None
    return (
        f"the warm start ended at val loss {tuned}, where the current adapter has {begun} "
        f"and the base model {base}"
    )
