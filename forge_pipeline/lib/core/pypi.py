"""Fetch one pinned file from PyPI (no install, nothing built), checking its sha256."""

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import requests

from forge_pipeline.lib.core.artifacts import sha256_file

_HREF = re.compile(r'href="([^"]+)"')


class DownloadError(RuntimeError):
    """A pinned file could not be fetched, or it is not the file that was pinned."""


def fetch_pinned(spec: str, sha256: str, dest: Path) -> Path:
    """Download the wheel of `name==version` into dest with pip and verify its hash."""
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(dest)]
    command += ["--only-binary", ":all:"]
    proc = subprocess.run([*command, spec], capture_output=True, text=True, check=False)
    files = [f for f in dest.iterdir() if f.suffix == ".whl"]
    if proc.returncode != 0 or len(files) != 1:
        raise DownloadError(
            f"Could not download {spec} from PyPI "
            f"({proc.stderr.strip()[-300:]}); check the network."
        )
    if (actual := sha256_file(files[0])) != sha256:
        raise _wrong_hash(files[0], actual, sha256)
    return files[0]


def fetch_sdist(spec: str, sha256: str, dest: Path) -> Path:
    """Download the source archive of `name==version` from the package index into dest.

    Not through pip: `pip download` of an sdist prepares its metadata, which installs unpinned
    build dependencies and runs the build backend before any hash is checked. Here the file is
    only fetched and hashed; the caller extracts it, and nothing is built.
    """
    name, version = spec.split("==")
    index = os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple").rstrip("/")
    page_url = f"{index}/{re.sub(r'[-_.]+', '-', name).lower()}/"
    wanted = {f"{stem}-{version}.tar.gz" for stem in (name, name.replace("-", "_"))}
    try:
        page = requests.get(page_url, timeout=60)
        page.raise_for_status()
        links = [urljoin(page_url, href) for href in _HREF.findall(page.text)]
        url = next(u for u in links if urlsplit(u).path.rsplit("/", 1)[-1] in wanted)
        target = dest / urlsplit(url).path.rsplit("/", 1)[-1]
        digest = hashlib.sha256()
        with requests.get(url, timeout=60, stream=True) as answer, target.open("wb") as out:
            answer.raise_for_status()
            for chunk in answer.iter_content(1 << 20):
                digest.update(chunk)
                out.write(chunk)
    except (requests.RequestException, StopIteration, OSError) as exc:
        raise DownloadError(
            f"Could not download the source of {spec} from {index} ({exc or 'no such file'}); "
            "check the network."
        ) from exc
    if digest.hexdigest() != sha256:
        target.unlink()
        raise _wrong_hash(target, digest.hexdigest(), sha256)
    return target


def _wrong_hash(file: Path, actual: str, expected: str) -> DownloadError:
    return DownloadError(
        f"{file.name} has sha256 {actual}, expected {expected}; refusing to use it."
    )
