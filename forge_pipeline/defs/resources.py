"""Resources shared by every stage: settings, hardware, the model server."""

import dagster as dg

from forge_pipeline.lib.config import Settings, load_settings
from forge_pipeline.lib.hardware import Hardware, detect_hardware
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
