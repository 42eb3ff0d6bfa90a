"""Forge's Dagster definitions: the stages under defs/, with resources bound once."""

import dagster as dg

import forge_pipeline.defs
from forge_pipeline.defs.resources import (
    ForgeResource,
    GeminiResource,
    HardwareResource,
    ModelServerResource,
)
from forge_pipeline.defs.training.launcher import TrainerLauncher

defs = dg.Definitions.merge(
    dg.load_defs(defs_root=forge_pipeline.defs),
    dg.Definitions(
        resources={
            "forge": ForgeResource(),
            "hardware": HardwareResource(),
            "trainer": TrainerLauncher(),
            "model_server": ModelServerResource(),
            "gemini": GeminiResource.from_env(),
        }
    ),
)
