"""Curation: review, duplicates (exact and near), token limits, deterministic split by file.

Does not touch: Dagster, models (whitespace words stand in for tokens).
"""

from pathlib import Path

import pytest

from forge_pipeline.lib.core import chat
from forge_pipeline.lib.core.config import Curation
from forge_pipeline.lib.dataset.curation import curate, pii_left
from forge_pipeline.lib.dataset.review import Review, ReviewError, load_review


def words(example: dict) -> tuple[int, int]:
    """Whitespace words as tokens: (answer, whole conversation)."""
    counts = [len(m["content"].split()) for m in example["messages"]]
    return counts[-1], sum(counts)


def example(text: str, source: str, id_: str | None = None) -> dict:
    return {
        **({"id": id_} if id_ else {}),
        "messages": [
            {"role": "system", "content": "s"},
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": text},
        ],
        "source_file": source,
    }


LOOSE = Curation(min_tokens=1, val_fraction=0.2)


def test_duplicates_and_token_lengths_are_dropped():
    rules = Curation(min_tokens=3, max_tokens=12, val_fraction=0.3)
    examples = [
        example("a long enough reflection", "a.md"),
        example("A  long enough   reflection", "b.md"),
        example("too short", "c.md"),
        example("word " * 20, "d.md"),
    ]
    curated = curate(examples, rules, words)
    assert curated.dropped == {
        "forgotten": 0,
        "excluded_in_review": 0,
        "duplicate": 1,
        "near_duplicate": 0,
        "too_short": 1,
        "too_long": 1,
    }
    assert len(curated.train) + len(curated.val) == 1 and curated.token_lengths == [6]


def test_near_duplicates_are_dropped_and_distinct_texts_kept():
    base = (
        "Looking back on the move I see that asking my sister for help early made the whole "
        "week calmer and I should do that more often when things pile up at work and home"
    )
    examples = [
        example(base, "a.md"),
        example(base.replace("sister", "brother"), "b.md"),
        example("Running in the rain taught me that discomfort fades faster than I fear.", "c.md"),
    ]
    curated = curate(examples, LOOSE, words)
    assert curated.dropped["near_duplicate"] == 1
    kept = {chat.answer(e) for e in curated.train + curated.val}
    assert base in kept and len(kept) == 2


def test_review_excludes_and_edits_by_id():
    examples = [example(f"reflection number {i} here", f"n{i}.md", f"id{i}") for i in range(4)]
    review = Review(
        exclude={"id0"},
        edit={"id1": {"assistant": "A rewritten reflection."}, "gone": {"user": "x"}},
    )
    curated = curate(examples, LOOSE, words, review)
    kept = {e["id"]: e for e in curated.train + curated.val}
    assert "id0" not in kept and curated.dropped["excluded_in_review"] == 1
    assert chat.answer(kept["id1"]) == "A rewritten reflection." and kept["id1"]["reviewed"]
    assert curated.edited == 1 and curated.unknown_review_ids == ["gone"]


def test_ids_are_stable_across_runs():
    first = curate([example("same words every run", "a.md")], LOOSE, words)
    again = curate([example("same words every run", "a.md")], LOOSE, words)
    assert (first.train + first.val)[0]["id"] == (again.train + again.val)[0]["id"]


def test_review_file_is_read_and_bad_ones_are_one_clear_error(tmp_path: Path):
    assert load_review(tmp_path / "none.yaml") == Review()
    good = tmp_path / "review.yaml"
    good.write_text("exclude: [abc]\nedit:\n  def:\n    user: Why?\n")
    assert load_review(good) == Review(exclude={"abc"}, edit={"def": {"user": "Why?"}})
    for text, message in [
        ("exclude: [unclosed", "not valid YAML"),
        ("remove: [abc]", "may hold only edit, exclude"),
        ("edit:\n  abc:\n    system: no\n", "must set 'user' and/or 'assistant'"),
    ]:
        good.write_text(text)
        with pytest.raises(ReviewError, match=message):
            load_review(good)


def test_split_is_by_file_and_deterministic():
    rules = Curation(min_tokens=1, val_fraction=0.2, near_duplicate_threshold=0.95)
    examples = [example(f"reflection {i} on day {i * 7}", f"note-{i % 40}.md") for i in range(200)]
    first, second = curate(examples, rules, words), curate(examples, rules, words)
    assert first.val == second.val and first.train == second.train
    train_files = {e["source_file"] for e in first.train}
    val_files = {e["source_file"] for e in first.val}
    assert train_files.isdisjoint(val_files)
    assert 2 <= len(val_files) <= 16


def test_two_files_still_give_a_val_set():
    rules = Curation(min_tokens=1, val_fraction=0.01)
    curated = curate([example("one", "a.md"), example("two", "b.md")], rules, words)
    assert len(curated.train) == 1 and len(curated.val) == 1


def test_redaction_covers_every_turn_and_leaves_nothing():
    rules = Curation(min_tokens=1, redact_pii=True)
    text = "Wrote to maya@example.com, see https://x.org/p and call 030 1234 5678."
    curated = curate([example(text, "a.md"), example("plain enough", "b.md")], rules, words)
    kept = curated.train + curated.val
    assert curated.redactions == 3 and pii_left(kept) == 0
    assert "Wrote to [email], see [url] and call [phone]." in [chat.answer(e) for e in kept]


def test_without_redaction_pii_is_counted_not_changed():
    curated = curate([example("mail maya@example.com now", "a.md")], LOOSE, words)
    assert curated.redactions == 0 and pii_left(curated.train + curated.val) == 1
