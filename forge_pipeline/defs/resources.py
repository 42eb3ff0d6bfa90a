"""Resources shared by every stage: settings and hardware."""

import dagster as dg

from forge_pipeline.lib.config import Settings, load_settings
from forge_pipeline.lib.hardware import Hardware, detect_hardware
from forge_pipeline.lib.layout import Layout


class ForgeResource(dg.ConfigurableResource):
    """Forge settings from forge.yaml and FORGE_* variables, with run-config overrides."""

    overrides: dict[str, str] = {}  # dotted key -> YAML value, e.g. {"training.max_steps": "10"}

    def settings(self) -> Settings:
        """The settings in force for this run."""
        return load_settings(overrides=self.overrides)

    def layout(self) -> Layout:
        """Artifact paths for this run."""
        return Layout(self.settings())


class HardwareResource(dg.ConfigurableResource):
    """The machine's GPU as NVML reports it (no GPU is a normal answer)."""

    def detect(self) -> Hardware:
        """Read the hardware now."""
        return detect_hardware()
