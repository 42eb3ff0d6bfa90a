"""Pinned downloads from PyPI refuse a wrong hash or a missing release with a clear error.

Does not touch: models. Needs the PyPI registry (as every install here does).
"""

from pathlib import Path

import pytest

from forge_pipeline.lib.core.pypi import DownloadError, fetch_pinned

SIX_WHEEL_SHA256 = "4721f391ed90541fddacab5acf947aa0d3dc7d27b2e1e8eda2be8970586c3274"


def test_the_pinned_file_is_accepted(tmp_path: Path):
    assert fetch_pinned("six==1.17.0", SIX_WHEEL_SHA256, tmp_path).name.startswith("six-1.17.0")


def test_a_wrong_hash_is_refused(tmp_path: Path):
    with pytest.raises(DownloadError, match=f"sha256 {SIX_WHEEL_SHA256}, expected 0+; refusing"):
        fetch_pinned("six==1.17.0", "0" * 64, tmp_path)


def test_a_missing_release_is_a_clear_error(tmp_path: Path):
    with pytest.raises(DownloadError, match="Could not download six==0.0.0.1 from PyPI"):
        fetch_pinned("six==0.0.0.1", "0" * 64, tmp_path)
