"""Stable ids for chat examples, so a review file can name one across runs."""

import hashlib


def example_id(source: str, text: str) -> str:
    """The same source and answer text give the same id on every run."""
    return hashlib.sha256(f"{source}\n{text}".encode()).hexdigest()[:12]
