"""Settings: forge.yaml, FORGE_* variables and dotted overrides.

Does not touch: Dagster, models.
"""

from pathlib import Path

import pytest
import yaml

from forge_pipeline.lib.core.config import (
    PROJECT_ROOT,
    ConfigError,
    Settings,
    env_name,
    load_settings,
)


def test_project_forge_yaml_loads(forge_env: Path):
    settings = load_settings()
    assert settings.vault.name == "vault" and settings.vault.is_dir()
    assert settings.home == forge_env
    assert settings.training.max_steps == "auto" and settings.training.epochs > 0


def test_the_shipped_forge_yaml_says_what_the_defaults_are():
    # A forge.yaml of a user's own that sets only the vault gets the code's defaults: they must
    # be what the project ships, tests and measures (cache_dir: the same folder, spelled out).
    def drift(written: dict, default: dict, prefix: str = "") -> list[str]:
        found = []
        for key, value in written.items():
            if isinstance(value, dict):
                found += drift(value, default[key], f"{prefix}{key}.")
            elif default.get(key) != value:
                found.append(f"{prefix}{key}")
        return found

    shipped = yaml.safe_load((PROJECT_ROOT / "forge.yaml").read_text())
    assert drift(shipped, Settings().model_dump(mode="json")) == ["cache_dir"]


def test_env_and_overrides_win_in_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    (tmp_path / "vault").mkdir()
    monkeypatch.setenv("FORGE_VAULT", str(tmp_path / "vault"))
    monkeypatch.setenv("FORGE_TRAINING_MAX_STEPS", "7")
    monkeypatch.setenv("FORGE_EXTRACTION_REFLECTION_TAGS", "[a, b]")
    settings = load_settings(overrides={"training.max_steps": "9", "curation.seed": "3"})
    assert settings.vault == tmp_path / "vault"
    assert settings.training.max_steps == 9
    assert settings.curation.seed == 3
    assert settings.extraction.reflection_tags == ["a", "b"]


def test_env_names():
    assert env_name("vault") == "FORGE_VAULT"
    assert env_name("training.max_steps") == "FORGE_TRAINING_MAX_STEPS"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("training: [unclosed", "not valid YAML"),
        ("training:\n  max_stepz: 3", "Invalid Forge settings"),
        ("gemini:\n  base_url: http://proxy.example/", "must be https"),
        ("gemini:\n  base_url: ftp://127.0.0.1/", "must be https"),
    ],
)
def test_bad_config_is_one_clear_error(tmp_path: Path, content: str, message: str):
    path = tmp_path / "forge.yaml"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message):
        load_settings(path)


@pytest.mark.parametrize("url", ["", "https://proxy.example/", "http://127.0.0.1:9999"])
def test_gemini_urls_that_keep_the_key_safe_are_accepted(tmp_path: Path, url: str):
    path = tmp_path / "forge.yaml"
    path.write_text(f"gemini:\n  base_url: '{url}'\n")
    assert load_settings(path).gemini.base_url == url
