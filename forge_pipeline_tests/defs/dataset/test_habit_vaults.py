"""forge_full on vaults written in each habit (template prompts, sections, outliner, posts).

Does not touch: the default model (the tiny one trains), Docker, the web UI, Gemini.
"""

from pathlib import Path

import pytest

from bench.habit_vaults import STYLES, write_vault
from forge_pipeline_tests.helpers import materialize_assets, metadata, tiny_overrides


@pytest.mark.parametrize("style", STYLES)
def test_forge_full_passes_every_check_on_a_vault_of_each_style(
    style: str, tiny_model: Path, tmp_path: Path, forge_env: Path
):
    written = write_vault(tmp_path / "vault", style, days=150)
    overrides = tiny_overrides(tiny_model, vault=str(written.root))
    del overrides["curation.min_examples"]  # the default minimum, as a new user has it
    result = materialize_assets(overrides)
    assert result.success
    checks = result.get_asset_check_evaluations()
    assert checks and all(check.passed for check in checks), [
        c.check_name for c in checks if not c.passed
    ]
    found = metadata(result, "reflection_examples")
    assert found["daily_coverage"] >= 0.9
    assert found["left_out_not_yours"] >= len(written.not_yours)
    assert found["left_out_private"] >= 2
    examples = (forge_env / "artifacts" / "reflection_examples" / "examples.jsonl").read_text()
    assert not [marker for marker in written.markers if marker in examples]
