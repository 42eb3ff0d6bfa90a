"""`forge`: conveniences around the pipeline, one module per group of commands."""

from forge_pipeline.cli import containers, model, pipeline, setup  # noqa: F401  (registers them)
from forge_pipeline.cli.app import app

__all__ = ["app"]
