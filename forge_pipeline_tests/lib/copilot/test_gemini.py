"""The Gemini client and every use of it, through the real SDK against a local fake server.

Does not touch: Dagster (see test_gemini_assets.py), the real Gemini API.
"""

import json
import time
from pathlib import Path

import pandas as pd
import pytest

from forge_pipeline.lib.copilot.gemini import GeminiClient, GeminiError, GeminiKeyError
from forge_pipeline.lib.copilot.questions import with_gemini_questions
from forge_pipeline.lib.copilot.tasks import (
    GeminiDiagnosis,
    assess_dataset,
    map_columns,
    plan_for_goal,
    redacted_samples,
    write_questions,
)
from forge_pipeline.lib.core.config import Gemini
from forge_pipeline.lib.dataset.plain import DatasetError, read_dataset
from forge_pipeline.lib.training.healing import classify, fix_for
from forge_pipeline_tests.fake_gemini import FakeGemini, default_answer, serve

KNOBS = {
    "batch_size": 4,
    "grad_accum": 1,
    "learning_rate": 2e-4,
    "max_length": 256,
    "gradient_checkpointing": False,
    "precision": "fp32",
    "device": "cpu",
}


def client_for(fake: FakeGemini, key: str = "test-key", **settings) -> GeminiClient:
    return GeminiClient(key, Gemini(base_url=fake.url, retries=2, backoff_s=0.01, **settings))


def example(i: int, answer: str) -> dict:
    return {
        "id": f"id{i:04d}",
        "messages": [
            {"role": "system", "content": "s"},
            {"role": "user", "content": f"Question {i}?"},
            {"role": "assistant", "content": answer},
        ],
    }


def test_study_goes_through_the_real_sdk_with_the_key_in_a_header():
    with serve(FakeGemini(default_answer)) as fake:
        client = client_for(fake)
        samples = [{"id": "a1", "question": "q", "answer": "a"}]
        assessment = assess_dataset(client, {"train_examples": 3}, samples)
    assert assessment.quality_score == 7
    assert assessment.problems[0].example_ids == ["a1"]
    (request,) = fake.received
    assert request.path.endswith("/models/gemini-2.5-flash:generateContent")
    assert request.headers["x-goog-api-key"] == "test-key"
    assert client.usage.requests == 1 and client.usage.items_sent == 1
    assert client.usage.bytes_sent > 0


def test_a_429_is_retried_and_then_answered():
    with serve(FakeGemini(default_answer, failures=[429])) as fake:
        client = client_for(fake)
        assessment = assess_dataset(client, {}, [])
    assert assessment.quality_score == 7
    assert len(fake.received) == 2
    assert client.usage.requests == 2  # the SDK's own retries are counted too
    assert client.usage.bytes_sent == sum(len(r.body.encode()) for r in fake.received)


def test_a_constant_500_gives_up_after_the_retries():
    with serve(FakeGemini(default_answer, always=500)) as fake:
        with pytest.raises(GeminiError, match="500"):
            assess_dataset(client_for(fake), {}, [])
    assert len(fake.received) == 3  # the first try and 2 retries


def test_a_malformed_answer_is_asked_again_then_given_up():
    with serve(FakeGemini(default_answer, failures=["malformed"])) as fake:
        assert assess_dataset(client_for(fake), {}, []).quality_score == 7
    with serve(FakeGemini(default_answer, always="malformed")) as fake:
        with pytest.raises(GeminiError, match="did not fit"):
            assess_dataset(client_for(fake), {}, [])
    assert len(fake.received) == 3


def test_a_wrong_key_is_one_clear_message_that_does_not_repeat_the_key():
    with serve(FakeGemini(default_answer, valid_key="right")) as fake:
        with pytest.raises(GeminiKeyError) as caught:
            assess_dataset(client_for(fake, key="wrong-key-123"), {}, [])
    assert "GEMINI_API_KEY" in str(caught.value)
    assert "wrong-key-123" not in str(caught.value)
    assert len(fake.received) == 1  # not retried


def test_an_unreachable_server_is_a_gemini_error():
    fake = FakeGemini(default_answer, url="http://127.0.0.1:9")
    with pytest.raises(GeminiError, match="could not be reached"):
        assess_dataset(client_for(fake, timeout_s=2), {}, [])


def test_a_slow_server_times_out_and_is_retried_then_given_up():
    with serve(FakeGemini(default_answer, delay_s=2)) as fake:
        with pytest.raises(GeminiError, match="ReadTimeout"):
            assess_dataset(client_for(fake, timeout_s=0.3), {}, [])
        time.sleep(0.5)  # the server is still answering the last try
    assert len(fake.received) == 3  # the first try and 2 retries


def test_samples_are_redacted_and_capped():
    examples = [
        example(i, f"Mail me at me{i}@example.com about the garden. " * 5) for i in range(50)
    ]
    samples = redacted_samples(examples, Gemini(max_samples=10, max_bytes=2000))
    assert 0 < len(samples) <= 10
    assert len(json.dumps(samples).encode()) <= 2000
    assert not any("@" in s["answer"] for s in samples)
    assert "[email]" in samples[0]["answer"]


def test_diagnosis_heals_an_unknown_failure_within_bounds():
    tail = "RuntimeError: cuDNN frobnicator stalled in a grouped kernel"
    assert classify(1, tail) == "unknown"
    with serve(FakeGemini(default_answer)) as fake:
        diagnosis = GeminiDiagnosis(client_for(fake), {"architecture": "ampere"})
        change, note = fix_for("unknown", KNOBS, tail, diagnosis)
    assert change == {"batch_size": 1}
    assert note.startswith("Gemini:")
    sent = json.loads(fake.received[0].prompt)
    assert sent["plan"]["batch_size"] == 4 and "frobnicator" in sent["error_tail"]


def test_diagnosis_outside_the_bounds_is_refused():
    def reckless(task, prompt):
        return {"learning_rate": 0.5, "reason": "Go faster."}

    with serve(FakeGemini(reckless)) as fake:
        diagnosis = GeminiDiagnosis(client_for(fake), {})
        assert fix_for("unknown", KNOBS, "odd error", diagnosis) is None
    assert "refused" in diagnosis.outcome


def test_questions_are_written_in_capped_batches():
    reflections = {f"k{i}": f"I learned thing number {i} about patience." for i in range(7)}
    with serve(FakeGemini(default_answer)) as fake:
        batches = list(write_questions(client_for(fake, max_samples=3), reflections))
    assert set().union(*batches) == set(reflections)
    assert [len(json.loads(r.prompt)["reflections"]) for r in fake.received] == [3, 3, 1]


def test_a_reflection_longer_than_the_cap_is_cut_before_it_is_sent():
    with serve(FakeGemini(default_answer)) as fake:
        list(write_questions(client_for(fake, max_bytes=2000), {"k": "I wrote a lot. " * 500}))
    assert len(fake.received[0].prompt.encode()) < 2000


def test_questions_are_cached_so_a_rerun_asks_only_for_new_reflections(tmp_path: Path):
    cache = tmp_path / "questions.json"
    first = [example(i, f"Reflection {i}: slow mornings help me think.") for i in range(4)]
    with serve(FakeGemini(default_answer)) as fake:
        done = with_gemini_questions(first, client_for(fake), cache, limit=100)
        assert (done.written_now, done.from_cache, done.templated) == (4, 0, 0)
        assert all(e["messages"][1]["content"].startswith("Gemini asks") for e in done.examples)
        again = [example(i, f"Reflection {i}: slow mornings help me think.") for i in range(5)]
        fake.received.clear()
        second = with_gemini_questions(again, client_for(fake), cache, limit=100)
    assert (second.written_now, second.from_cache) == (1, 4)
    (request,) = fake.received
    assert [r["reflection"] for r in json.loads(request.prompt)["reflections"]] == [
        "Reflection 4: slow mornings help me think."
    ]


def test_questions_written_before_a_failure_are_kept(tmp_path: Path):
    examples = [example(i, f"Reflection {i} on rest.") for i in range(4)]
    with serve(FakeGemini(default_answer, failures=[200, 503, 503, 503])) as fake:
        client = client_for(fake, max_samples=2)
        done = with_gemini_questions(examples, client, tmp_path / "q.json", limit=10)
    assert done.error and (done.written_now, done.templated) == (2, 2)
    assert len(json.loads((tmp_path / "q.json").read_text())) == 2


def test_question_writing_failure_keeps_the_templates(tmp_path: Path):
    examples = [example(i, f"Reflection {i} on rest.") for i in range(3)]
    with serve(FakeGemini(default_answer, always=503)) as fake:
        done = with_gemini_questions(examples, client_for(fake), tmp_path / "q.json", limit=10)
    assert done.error and done.templated == 3
    assert [e["messages"][1]["content"] for e in done.examples] == [
        "Question 0?",
        "Question 1?",
        "Question 2?",
    ]


def test_gemini_maps_columns_the_heuristics_cannot(tmp_path: Path):
    path = tmp_path / "odd.csv"
    pd.DataFrame({"ask": ["How was the trip?"], "told": ["Long but good."]}).to_csv(
        path, index=False
    )
    with pytest.raises(DatasetError, match="saw \\['ask', 'told'\\]"):
        read_dataset(path, "sys")
    with serve(FakeGemini(default_answer)) as fake:
        client = client_for(fake)
        result = read_dataset(path, "sys", guess=lambda c, r: map_columns(client, c, r))
    assert result.mapping == {"prompt": "ask", "response": "told"}
    assert result.examples[0]["messages"][2]["content"] == "Long but good."


def test_a_gemini_mapping_naming_missing_columns_is_refused(tmp_path: Path):
    path = tmp_path / "odd.csv"
    pd.DataFrame({"ask": ["q"], "told": ["a"]}).to_csv(path, index=False)
    with pytest.raises(DatasetError, match="Gemini could not tell either"):
        read_dataset(path, "sys", guess=lambda c, r: {"prompt": "nope", "response": "told"})


def test_a_goal_becomes_a_system_prompt_with_bounded_adjustments():
    with serve(FakeGemini(default_answer)) as fake:
        answer, accepted, refused = plan_for_goal(client_for(fake), "remember my travels", 40)
    assert answer.system_prompt == "You help me with: remember my travels"
    assert accepted == {"max_steps": 60, "lora_r": 8}
    assert refused == ["learning_rate"]
