"""Resources shared by every stage: settings, hardware, the model server, Gemini."""

import os
from pathlib import Path

import dagster as dg
from pydantic import PrivateAttr

from forge_pipeline.lib.copilot.gemini import KEY_ENV, GeminiClient, unavailable_reason
from forge_pipeline.lib.core.artifacts import atomic_file
from forge_pipeline.lib.core.config import Gemini, Settings, load_settings
from forge_pipeline.lib.core.layout import Layout
from forge_pipeline.lib.training.hardware import Hardware, detect_hardware
from forge_pipeline.serving.client import ServerClient
from forge_pipeline.serving.names import ADMIN_TOKEN_ENV


class ForgeResource(dg.ConfigurableResource):
    """Forge settings from forge.yaml and FORGE_* variables, with run-config overrides."""

    overrides: dict[str, str] = {}  # dotted key -> YAML value, e.g. {"training.max_steps": "10"}
    _settings: Settings | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # Each step runs in its own process: they all read the settings the run's first step
        # resolved, so editing forge.yaml during a run cannot make two stages disagree.
        instance, run_id = context.instance, context.run_id
        if instance is None or not run_id:
            return
        folder = Path(instance.storage_directory()) / "forge-settings"
        self._settings = run_settings(folder / f"{run_id}.json", self.overrides)

    def settings(self) -> Settings:
        """The settings in force for this run, resolved once."""
        if self._settings is None:
            self._settings = load_settings(overrides=self.overrides)
        return self._settings

    def layout(self) -> Layout:
        """Where this run's artifacts go."""
        return Layout(self.settings())


KEEP_RUN_SETTINGS = 100  # snapshots of finished runs' settings kept beside the instance


def run_settings(snapshot: Path, overrides: dict[str, str]) -> Settings:
    """The settings a run resolved first (from its snapshot), or resolved and written now."""
    try:
        return Settings.model_validate_json(snapshot.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass  # the run's first step: resolve and keep them
    settings = load_settings(overrides=overrides)
    snapshot.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(snapshot) as tmp:
        tmp.write_text(settings.model_dump_json(), encoding="utf-8")
    for old in sorted(snapshot.parent.glob("*.json"), key=os.path.getmtime)[:-KEEP_RUN_SETTINGS]:
        old.unlink(missing_ok=True)
    return settings


class HardwareResource(dg.ConfigurableResource):
    """The machine's GPU as NVML reports it (no GPU is a normal answer)."""

    def detect(self) -> Hardware:
        """Read the hardware now."""
        return detect_hardware()


class ModelServerResource(dg.ConfigurableResource):
    """A running `forge serve` to hot-reload after a deploy (if it is up)."""

    url: str = ""  # default: http://{serving.host}:{serving.port}
    admin_token_env: str = ADMIN_TOKEN_ENV  # the variable holding the bearer token, not the token

    def client(self, settings: Settings) -> ServerClient:
        """A client for the configured server; the token is read from the environment now."""
        return ServerClient.for_settings(settings, self.url, self.admin_token_env)


class GeminiResource(dg.ConfigurableResource):
    """Gemini as co-pilot when GEMINI_API_KEY is set; every use has an offline path."""

    api_key: str = ""  # bound to dg.EnvVar("GEMINI_API_KEY"): config holds the name, not the key

    @classmethod
    def from_env(cls) -> "GeminiResource":
        """Bound to the key's variable when it is set (an unset EnvVar fails every run)."""
        return cls(api_key=dg.EnvVar(KEY_ENV)) if os.environ.get(KEY_ENV) else cls()

    def client(self, settings: Gemini, sends_notes: bool) -> tuple[GeminiClient | None, str]:
        """A client, or None and why Gemini is not used (no key, or no consent to send notes)."""
        reason = unavailable_reason(self.api_key, settings, sends_notes)
        return (None, reason) if reason else (GeminiClient(self.api_key, settings), "")
