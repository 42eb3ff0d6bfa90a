"""Pinned downloads from PyPI refuse a wrong hash or a missing release with a clear error.

Does not touch: models. Needs the PyPI registry (as every install here does).
"""

from pathlib import Path

import pytest

from forge_pipeline.lib.core.pypi import DownloadError, fetch_pinned, fetch_sdist

SIX_WHEEL_SHA256 = "4721f391ed90541fddacab5acf947aa0d3dc7d27b2e1e8eda2be8970586c3274"


def test_the_pinned_file_is_accepted(tmp_path: Path):
    assert fetch_pinned("six==1.17.0", SIX_WHEEL_SHA256, tmp_path).name.startswith("six-1.17.0")


def test_a_wrong_hash_is_refused(tmp_path: Path):
    with pytest.raises(DownloadError, match=f"sha256 {SIX_WHEEL_SHA256}, expected 0+; refusing"):
        fetch_pinned("six==1.17.0", "0" * 64, tmp_path)


def test_a_missing_release_is_a_clear_error(tmp_path: Path):
    with pytest.raises(DownloadError, match="Could not download six==0.0.0.1 from PyPI"):
        fetch_pinned("six==0.0.0.1", "0" * 64, tmp_path)


SIX_SDIST_SHA256 = "ff70335d468e7eb6ec65b95b99d3a2836546063f63acc5171de367e834932a81"


def test_a_source_archive_is_fetched_and_hashed_without_building(tmp_path: Path):
    dest = tmp_path / "dest"
    dest.mkdir()
    sdist = fetch_sdist("six==1.17.0", SIX_SDIST_SHA256, dest)
    assert sdist.name == "six-1.17.0.tar.gz"
    assert [p.name for p in dest.iterdir()] == [sdist.name]  # nothing unpacked or built


def test_a_source_archive_with_a_wrong_hash_is_refused_and_removed(tmp_path: Path):
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(DownloadError, match="expected 0+; refusing"):
        fetch_sdist("six==1.17.0", "0" * 64, dest)
    assert list(dest.iterdir()) == []


def test_a_missing_source_archive_is_a_clear_error(tmp_path: Path):
    with pytest.raises(DownloadError, match="Could not download the source of six==0.0.0.1"):
        fetch_sdist("six==0.0.0.1", "0" * 64, tmp_path)
