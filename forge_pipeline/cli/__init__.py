"""`forge`: conveniences around the pipeline, one module per group of commands."""

from forge_pipeline.cli import containers, dataset, model, pipeline, setup, versions  # noqa: F401
from forge_pipeline.cli.app import app

__all__ = ["app"]
