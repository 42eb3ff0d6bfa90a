"""Deploys through the chain: a running server is hot-reloaded; a worse model is never deployed.

Does not touch: the default model. Runs the tiny chain three times in one FORGE_HOME.
"""

from pathlib import Path

import requests

from forge_pipeline.serving.registry import ModelRegistry
from forge_pipeline_tests.helpers import (
    TOKEN,
    materialize_assets,
    metadata,
    running_server,
    tiny_overrides,
)


def served_version(url: str) -> str:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    return requests.get(f"{url}/admin/status", headers=headers, timeout=10).json()["version"]


def test_deploy_reloads_the_server_and_a_worse_model_stays_out(
    tiny_model: Path, forge_env: Path, monkeypatch
):
    registry = ModelRegistry(forge_env / "registry")
    first = materialize_assets(tiny_overrides(tiny_model, **{"training.max_steps": "20"}))
    assert first.success and registry.current_version() == "v0001"

    monkeypatch.setenv("FORGE_ADMIN_TOKEN", TOKEN)
    with running_server(forge_env) as url:
        better = materialize_assets(
            tiny_overrides(tiny_model, **{"training.max_steps": "40"}), server_url=url
        )
        deployed = metadata(better, "deployed_model")
        assert deployed["version"] == "v0002" == registry.current_version()
        assert deployed["server"] == url and deployed["reload_s"] > 0
        assert served_version(url) == "v0002"

        worse = materialize_assets(
            tiny_overrides(tiny_model, **{"training.max_steps": "4"}), server_url=url
        )
        gate = {e.check_name: e for e in worse.get_asset_check_evaluations()}["beats_deployed"]
        assert gate.passed is False
        assert gate.metadata["reference"].value == "deployed v0002"
        assert gate.metadata["delta"].value > 0
        assert not worse.asset_materializations_for_node("deployed_model")
        assert registry.current_version() == "v0002" and served_version(url) == "v0002"
