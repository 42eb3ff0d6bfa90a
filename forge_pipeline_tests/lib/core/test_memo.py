"""The memo of model results, and the fixed samples whose results it keeps.

Does not touch: any model.
"""

from pathlib import Path

from forge_pipeline.lib.core.memo import Memo, call_key, remembered
from forge_pipeline.lib.core.sampling import asked_rounds, stable_sample


def test_saving_keeps_the_models_asked_for_this_run_and_no_other(tmp_path: Path):
    path = tmp_path / "memo.json"
    first = Memo(path)
    first.of("deployed")["q1"] = "old answer"
    first.of("retired")["q1"] = "gone"
    first.save()
    second = Memo(path)
    assert second.of("deployed") == {"q1": "old answer"}
    second.of("new")["q1"] = "new answer"
    second.of("private")["q1"] = "said from a forgotten note"
    second.forget("private")
    second.save()
    assert Memo(path).of("retired") == {} and Memo(path).of("private") == {}
    assert Memo(path).of("new") == {"q1": "new answer"}


def test_a_damaged_memo_is_an_empty_one(tmp_path: Path):
    for text in ("{not json", "[1, 2]", '{"model": "not a mapping"}'):
        path = tmp_path / "memo.json"
        path.write_text(text)
        assert Memo(path).of("model") == {}


def test_call_keys_differ_by_every_input_and_not_by_run():
    assert call_key("sys", "q", 96) == call_key("sys", "q", 96)
    assert len({call_key("sys", "q", 96), call_key("sys", "q", 97), call_key("s", "q", 96)}) == 3


def test_a_stable_sample_keeps_its_examples_as_the_set_grows():
    examples = [{"id": f"e{i}"} for i in range(40)]
    sample = stable_sample(examples, 8)
    assert len(sample) == 8 and sample == sorted(sample, key=examples.index)  # in list order
    grown = stable_sample([*examples, *({"id": f"new{i}"} for i in range(2))], 8)
    assert len([e for e in sample if e in grown]) >= 6  # two new ones displace two at most
    assert stable_sample(examples[:5], 8) == examples[:5]


def test_a_small_sample_is_asked_in_rounds_up_to_the_count():
    sample = [{"id": f"e{i}"} for i in range(3)]
    assert asked_rounds(sample, 7) == [*sample, *sample, sample[0]]
    assert asked_rounds(sample, 2) == sample[:2]
    assert asked_rounds([], 5) == []


def test_only_calls_missing_or_damaged_in_the_memo_are_computed_and_the_memo_keeps_these():
    computed: list[list[int]] = []

    def square(todo: list[int]) -> list[int]:
        computed.append(todo)
        return [n * n for n in todo]

    def whole(value: object) -> bool:
        return isinstance(value, int)

    memo = {"two": 4, "three": "damaged", "old": 1}
    found = remembered(memo, {"two": 2, "three": 3, "four": 4}, whole, square)
    assert found == {"two": 4, "three": 9, "four": 16} and computed == [[3, 4]]
    assert memo == found  # "old" was not asked for, so it is let go
    assert remembered(memo, {"two": 2}, whole, square) == {"two": 4}
    assert computed == [[3, 4]]
