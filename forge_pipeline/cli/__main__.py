"""`python -m forge_pipeline.cli`."""

from forge_pipeline.cli import app

app()
