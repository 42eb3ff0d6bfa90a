"""`forge init`, `forge plan "<goal>"` and `forge explain NOTE`: settings, the key, one note.

Does not touch: the pipeline's assets (see test_gemini_assets.py), the real Gemini API.
"""

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from forge_pipeline.cli import app
from forge_pipeline.lib.core.config import PROJECT_ROOT
from forge_pipeline_tests.fake_gemini import FakeGemini, default_answer, serve
from forge_pipeline_tests.helpers import SAMPLE_VAULT

KEY = "AIza-cli-test-key-0042"


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the project's forge.yaml, in use through FORGE_CONFIG."""
    path = tmp_path / "forge.yaml"
    path.write_text((PROJECT_ROOT / "forge.yaml").read_text())
    monkeypatch.setenv("FORGE_CONFIG", str(path))
    monkeypatch.setenv("FORGE_GEMINI_BACKOFF_S", "0.01")
    return path


@pytest.fixture
def gemini(config: Path, monkeypatch: pytest.MonkeyPatch):
    """The fake Gemini, accepting only KEY, where the settings point Forge at it."""
    with serve(FakeGemini(default_answer, valid_key=KEY)) as fake:
        monkeypatch.setenv("FORGE_GEMINI_BASE_URL", fake.url)
        yield fake


def forge(*args: str):
    return CliRunner().invoke(app, list(args))


def test_init_writes_choices_in_place_and_keeps_comments(config: Path, tmp_path: Path):
    vault = tmp_path / "My Vault"
    vault.mkdir()
    result = forge("init", "--vault", str(vault), "--share-notes")
    assert result.exit_code == 0, result.output
    text = config.read_text()
    settings = yaml.safe_load(text)
    assert settings["vault"] == str(vault)
    assert settings["gemini"]["share_notes"] is True
    assert "# the notes vault (read-only; Forge never writes into it)" in text
    assert "GEMINI_API_KEY is not set" in result.output


def test_init_refuses_a_bad_value_and_leaves_the_file_alone(config: Path):
    before = config.read_text()
    result = forge("init", "--gemini-model", "")
    assert result.exit_code == 1
    assert "Invalid Forge settings" in result.output
    assert config.read_text() == before


def test_init_checks_the_key_and_never_writes_it(config: Path, gemini: FakeGemini, monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    result = forge("init", "--no-share-notes")
    assert result.exit_code == 0, result.output
    assert "the key works" in result.output and "notes shared: never" in result.output
    assert [r.task for r in gemini.received] == ["key check"]
    assert KEY not in config.read_text() and KEY not in result.output


def test_init_with_a_wrong_key_says_so_in_one_sentence(gemini: FakeGemini, monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEY", "not-the-key")
    result = forge("init")
    assert result.exit_code == 1
    assert "Gemini refused the key in GEMINI_API_KEY" in result.output
    assert "not-the-key" not in result.output


def test_plan_turns_a_goal_into_a_system_prompt_with_gemini(gemini: FakeGemini, monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    result = forge("plan", "remember my travels")
    assert result.exit_code == 0, result.output
    assert "You help me with: remember my travels" in result.output
    assert "training.max_steps: 60" in result.output
    assert "Refused (outside Forge's bounds): learning_rate" in result.output
    assert [r.task for r in gemini.received] == ["planning"]


def test_plan_offline_uses_the_goal_as_written(config: Path):
    result = forge("plan", "remember my travels")
    assert result.exit_code == 0, result.output
    assert "system prompt: 'remember my travels'" in result.output


@pytest.fixture
def sample_vault(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORGE_VAULT", str(SAMPLE_VAULT))


def test_explain_shows_each_passage_taken_or_left(sample_vault):
    result = forge("explain", "Daily/2026-06-01.md")
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())
    assert "Daily/2026-06-01.md: 3 example(s)" in output
    assert "taken" in output and "question" in output and "section:Journal" in output
    assert "left: link list" in output  # the line of links to yesterday and tomorrow
    assert "left: score -1 < 3" in output


def test_explain_a_note_left_out_whole_and_a_missing_one(sample_vault):
    result = forge("explain", "Private/Therapy notes.md")
    assert result.exit_code == 0
    assert "left out whole: private note" in result.output
    missing = forge("explain", "Daily/1999-01-01.md")
    assert missing.exit_code == 1 and "No note at" in missing.output


def test_container_status_without_an_engine_says_so(monkeypatch: pytest.MonkeyPatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-such.sock")
    result = forge("container", "status")
    assert result.exit_code == 1 and "No Docker engine answers" in result.output
