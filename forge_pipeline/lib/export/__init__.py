"""Merging the adapter, GGUF export and the checks a GGUF must pass."""
