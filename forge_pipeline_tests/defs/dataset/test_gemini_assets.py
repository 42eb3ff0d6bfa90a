"""Gemini inside the pipeline: consent, redaction, offline fallbacks, and a key never written.

Uses the real google-genai SDK against the local fake server. Does not touch: the real API.
"""

import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import dagster as dg

from forge_pipeline.lib.core import chat
from forge_pipeline.lib.core.config import env_name, load_settings
from forge_pipeline.lib.core.jsonl import read_jsonl
from forge_pipeline.lib.core.layout import Layout
from forge_pipeline_tests.fake_gemini import FakeGemini, default_answer, serve
from forge_pipeline_tests.helpers import (
    SAMPLE_VAULT,
    UPSTREAM,
    materialize_assets,
    metadata,
    tiny_overrides,
)

FORGE = str(Path(sys.executable).parent / "forge")
SECRET = f"AIza-forge-test-{uuid.uuid4().hex}"
PRIVATE_NOTE = """---
date: 2026-02-03
tags: [reflection]
---
## Reflections
I realize I should write to anna.keller@example.org more often, and call her on
+44 20 7946 0958 before the month is out; https://example.org/our-trip still has the photos.
"""


def gemini_overrides(fake: FakeGemini, **extra: str) -> dict[str, str]:
    return {"gemini.base_url": fake.url, "gemini.backoff_s": "0.01", **extra}


def test_without_a_key_the_study_is_offline_and_says_why(tiny_model: Path):
    result = materialize_assets(tiny_overrides(tiny_model), [*UPSTREAM, "dataset_study"])
    assert result.success
    study = metadata(result, "dataset_study")
    assert study["gemini_used"] is False
    assert study["gemini_not_used_because"] == "GEMINI_API_KEY is not set"
    assert "## Rule-based advice" in study["report"]
    assert "Gemini was not used: GEMINI_API_KEY is not set." in study["report"]
    assert metadata(result, "reflection_examples")["gemini_used"] is False


def test_without_consent_no_note_reaches_gemini(tiny_model: Path):
    with serve(FakeGemini(default_answer, valid_key=SECRET)) as fake:
        overrides = tiny_overrides(tiny_model, **gemini_overrides(fake))
        result = materialize_assets(overrides, [*UPSTREAM, "dataset_study"], gemini_key=SECRET)
    assert result.success
    assert fake.received == []
    study = metadata(result, "dataset_study")
    assert "share_notes is false" in study["gemini_not_used_because"]


def test_with_consent_gemini_writes_questions_and_studies_redacted_samples(
    tiny_model: Path, tmp_path: Path
):
    vault = tmp_path / "vault"
    shutil.copytree(SAMPLE_VAULT, vault)
    (vault / "Daily" / "2026-02-03.md").write_text(PRIVATE_NOTE)
    with serve(FakeGemini(default_answer, valid_key=SECRET)) as fake:
        overrides = tiny_overrides(
            tiny_model,
            vault=str(vault),
            **gemini_overrides(fake, **{"gemini.share_notes": "true", "gemini.max_samples": "25"}),
        )
        result = materialize_assets(overrides, [*UPSTREAM, "dataset_study"], gemini_key=SECRET)
        assert result.success
        first_requests = len(fake.received)
        again = materialize_assets(overrides, ["reflection_examples"], gemini_key=SECRET)
    examples = metadata(result, "reflection_examples")
    assert examples["questions_written_by_gemini"] == examples["examples"]
    assert examples["gemini_requests"] == first_requests - 1  # and one for the study
    assert 0 < examples["gemini_bytes_sent"]
    train = read_jsonl(Layout(load_settings(overrides=overrides)).train)
    assert all(e["messages"][1]["content"].startswith("Gemini asks") for e in train)
    study = metadata(result, "dataset_study")
    assert study["quality_score"] == 7 and study["gemini_used"] is True
    assert "Quality score: **7/10**" in study["report"]
    sent = fake.everything_sent()
    assert "anna.keller@example.org" not in sent and "7946" not in sent
    assert "example.org/our-trip" not in sent and "[email]" in sent
    # The re-run asks nothing: every reflection's question is cached by its content.
    assert len(fake.received) == first_requests
    assert metadata(again, "reflection_examples")["questions_from_gemini_cache"] > 0


def test_a_failing_gemini_falls_back_to_the_offline_study(tiny_model: Path):
    with serve(FakeGemini(default_answer, always=500)) as fake:
        overrides = tiny_overrides(
            tiny_model, **gemini_overrides(fake, **{"gemini.share_notes": "true"})
        )
        result = materialize_assets(overrides, [*UPSTREAM, "dataset_study"], gemini_key=SECRET)
    assert result.success
    study = metadata(result, "dataset_study")
    assert study["gemini_used"] is False
    assert "500" in study["gemini_not_used_because"]
    assert metadata(result, "reflection_examples")["questions_from_templates"] > 0


def test_forge_run_with_a_key_heals_through_gemini_and_never_writes_the_key(
    tiny_model: Path, forge_env: Path
):
    settings = {**tiny_overrides(tiny_model), "training.max_steps": "12"}
    with serve(FakeGemini(default_answer, valid_key=SECRET)) as fake:
        env = {
            **os.environ,
            **{env_name(k): v for k, v in {**settings, **gemini_overrides(fake)}.items()},
            "GEMINI_API_KEY": SECRET,
            "FORGE_TRAIN_INJECT": "odd:4",  # a failure no rule knows, above batch 4
        }
        done = subprocess.run(
            [FORGE, "run"],  # `dagster job execute ... -j forge_full`, with progress
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
    assert done.returncode == 0, done.stdout[-3000:]
    assert "forge_full succeeded" in done.stdout
    assert re.search(r"lora_adapter\s+│\s+done", done.stdout), done.stdout
    assert [r.task for r in fake.received] == ["failure diagnosis"]
    # Nothing from the notes went out with the diagnosis.
    layout = Layout(load_settings(overrides=settings))
    sent = fake.everything_sent()
    for example in read_jsonl(layout.train) + read_jsonl(layout.val):
        assert chat.answer(example)[:60] not in sent
    # The key is nowhere on disk (FORGE_HOME holds DAGSTER_HOME: runs, event logs, compute
    # logs; forge run's own log; artifacts, registry) nor in what the run printed.
    assert list(forge_env.rglob("compute_logs/*.err")), "the run's logs are where we look"
    leaks = [p for p in forge_env.rglob("*") if p.is_file() and SECRET.encode() in p.read_bytes()]
    assert leaks == []
    assert SECRET not in done.stdout + done.stderr
    with dg.DagsterInstance.get() as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey("lora_adapter"))
    healed = event.asset_materialization.metadata["healed_failures"].value
    assert "Gemini: The kernel stalls" in healed and "batch_size=1" in healed


def test_a_wrong_key_is_named_in_the_study_and_the_run_goes_on(tiny_model: Path):
    with serve(FakeGemini(default_answer, valid_key=SECRET)) as fake:
        overrides = tiny_overrides(
            tiny_model, **gemini_overrides(fake, **{"gemini.share_notes": "true"})
        )
        result = materialize_assets(overrides, [*UPSTREAM, "dataset_study"], gemini_key="wrong")
    assert result.success
    reason = metadata(result, "dataset_study")["gemini_not_used_because"]
    assert reason.startswith("Gemini refused the key in GEMINI_API_KEY")
