"""Resources shared by every stage: settings, hardware, the model server, Gemini."""

import os

import dagster as dg

from forge_pipeline.lib.copilot.gemini import KEY_ENV, GeminiClient, unavailable_reason
from forge_pipeline.lib.core.config import Gemini, Settings, load_settings
from forge_pipeline.lib.training.hardware import Hardware, detect_hardware
from forge_pipeline.serving.client import ServerClient
from forge_pipeline.serving.names import ADMIN_TOKEN_ENV


class ForgeResource(dg.ConfigurableResource):
    """Forge settings from forge.yaml and FORGE_* variables, with run-config overrides."""

    overrides: dict[str, str] = {}  # dotted key -> YAML value, e.g. {"training.max_steps": "10"}

    def settings(self) -> Settings:
        """The settings in force for this run."""
        return load_settings(overrides=self.overrides)


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
