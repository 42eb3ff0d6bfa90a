"""A short hash of source files, so work cached by other code is done again after an upgrade."""

import hashlib
from pathlib import Path


def source_key(*files: str | Path) -> str:
    """Changes whenever any of the files does."""
    digest = hashlib.sha256()
    for file in files:
        digest.update(Path(file).read_bytes())
    return digest.hexdigest()[:16]
