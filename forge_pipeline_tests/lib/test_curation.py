"""Curation: duplicates, length filters, deterministic split by source file.

Does not touch: Dagster, models, files.
"""

from forge_pipeline.lib.config import Curation
from forge_pipeline.lib.curation import assistant_text, curate, pii_left


def example(text: str, source: str) -> dict:
    return {
        "messages": [
            {"role": "system", "content": "s"},
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": text},
        ],
        "source_file": source,
    }


def test_duplicates_and_lengths_are_dropped():
    rules = Curation(min_chars=10, max_chars=50, val_fraction=0.3)
    examples = [
        example("a long enough reflection", "a.md"),
        example("A  long enough   reflection", "b.md"),
        example("short", "c.md"),
        example("x" * 60, "d.md"),
    ]
    curated = curate(examples, rules)
    assert curated.dropped == {"duplicate": 1, "too_short": 1, "too_long": 1}
    assert len(curated.train) + len(curated.val) == 1


def test_split_is_by_file_and_deterministic():
    rules = Curation(min_chars=1, val_fraction=0.2)
    examples = [example(f"reflection {i}", f"note-{i % 40}.md") for i in range(200)]
    first, second = curate(examples, rules), curate(examples, rules)
    assert first.val == second.val and first.train == second.train
    train_files = {e["source_file"] for e in first.train}
    val_files = {e["source_file"] for e in first.val}
    assert train_files.isdisjoint(val_files)
    assert 2 <= len(val_files) <= 16


def test_two_files_still_give_a_val_set():
    rules = Curation(min_chars=1, val_fraction=0.01)
    curated = curate([example("one", "a.md"), example("two", "b.md")], rules)
    assert len(curated.train) == 1 and len(curated.val) == 1


def test_redaction_covers_every_turn_and_leaves_nothing():
    rules = Curation(min_chars=1, redact_pii=True)
    text = "Wrote to maya@example.com, see https://x.org/p and call 030 1234 5678."
    curated = curate([example(text, "a.md"), example("plain enough", "b.md")], rules)
    kept = curated.train + curated.val
    assert curated.redactions == 3 and pii_left(kept) == 0
    assert "Wrote to [email], see [url] and call [phone]." in [assistant_text(e) for e in kept]


def test_without_redaction_pii_is_counted_not_changed():
    curated = curate([example("mail maya@example.com now", "a.md")], Curation(min_chars=1))
    assert curated.redactions == 0 and pii_left(curated.train + curated.val) == 1
