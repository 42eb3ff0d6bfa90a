"""Profiles and problem counts of a curated set.

Does not touch: Dagster, files.
"""

from forge_pipeline.lib.dataset.profile import (
    by_month,
    by_tag,
    duplicates_left,
    empty_turns,
    length_histogram,
    percentile,
    schema_errors,
)


def example(answer: str, question: str = "q?", date: str | None = "2026-01-05", tags=("a",)):
    return {
        "messages": [
            {"role": "system", "content": "s"},
            {"role": "user", "content": question},
            {"role": "assistant", "content": answer},
        ],
        "date": date,
        "tags": list(tags),
    }


def test_problem_counts():
    good = example("fine answer")
    assert (schema_errors([good]), empty_turns([good]), duplicates_left([good])) == (0, 0, 0)
    broken = {"messages": [{"role": "assistant", "content": "no question first"}]}
    no_list = {"messages": "text"}
    assert schema_errors([good, broken, no_list]) == 2
    assert empty_turns([example(" "), example("x", question="")]) == 2
    assert duplicates_left([good, example("Fine   ANSWER"), example("other")]) == 1


def test_profile_tables():
    examples = [
        example("x" * 50, tags=("run", "work")),
        example("y" * 150, date="2026-02-01"),
        example("z" * 2000, date=None, tags=()),
    ]
    assert by_tag(examples) == [("run", 1), ("work", 1), ("a", 1)]
    assert by_month(examples) == [("2026-01", 1), ("2026-02", 1), ("undated", 1)]
    assert length_histogram([10, 40, 40, 300, 5000]) == [
        ("0–31", 1),
        ("32–63", 2),
        ("64–127", 0),
        ("128–255", 0),
        ("256–511", 1),
        ("512–1023", 0),
        ("1024+", 1),
    ]


def test_percentile():
    assert percentile([], 0.5) == 0
    assert percentile([1, 2, 3, 4], 0.5) == 3 and percentile([1, 2, 3, 4], 0.95) == 4
