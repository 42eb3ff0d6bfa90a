"""A real Docker engine for the `docker` tests, and a local image built without any registry.

The image is a Debian rootfs made once by debootstrap (cached as a tar); the project's code,
virtualenv and Python are bind-mounted at their own paths, since pip cannot fetch inside a build.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from forge_pipeline.lib.core.config import PROJECT_ROOT
from forge_pipeline.lib.training.containers import engine_answers
from forge_pipeline_tests.helpers import SHARED_CACHE

TEST_IMAGE = "localhost/forge-test:bookworm"
ROOTFS_TAR = SHARED_CACHE / "docker" / "rootfs-bookworm.tar"
START_ENGINE = PROJECT_ROOT / "docker" / "start-engine.sh"
DEBIAN_MIRROR = "http://deb.debian.org/debian"


def ensure_engine() -> None:
    """A Docker engine answering at DOCKER_HOST, started if need be; skip (fail in CI) if none."""
    if engine_answers():
        return
    started = subprocess.run([str(START_ENGINE)], capture_output=True, text=True)
    if started.returncode == 0:
        os.environ["DOCKER_HOST"] = started.stdout.strip()
    if not engine_answers():
        reason = f"no Docker engine could be started: {started.stderr.strip()[-300:]}"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)


def ensure_test_image() -> str:
    """The local test image, imported from the cached debootstrap rootfs (made once)."""
    import docker

    client = docker.from_env()
    if client.images.list(name=TEST_IMAGE):
        return TEST_IMAGE
    if not ROOTFS_TAR.exists():
        _make_rootfs(ROOTFS_TAR)
    subprocess.run(
        ["docker", "import", "--change", 'CMD ["python3"]', str(ROOTFS_TAR), TEST_IMAGE],
        check=True,
        capture_output=True,
    )
    return TEST_IMAGE


def container_overrides() -> dict[str, str]:
    """Settings that make the trainer run in the test image, with this checkout mounted."""
    mounts = [str(PROJECT_ROOT), sys.prefix, sys.base_prefix]
    return {
        "docker.image": TEST_IMAGE,
        "docker.python": sys.executable,
        "docker.mounts": "[" + ", ".join(f'"{m}"' for m in mounts) + "]",
    }


def _make_rootfs(tar: Path) -> None:
    root = tar.parent / "rootfs"
    tar.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["rm", "-rf", str(root)], check=True)
    subprocess.run(
        ["debootstrap", "--variant=minbase", "--include=python3,libgomp1,libstdc++6"]
        + ["bookworm", str(root), DEBIAN_MIRROR],
        check=True,
        capture_output=True,
    )
    partial = tar.with_suffix(".partial")
    subprocess.run(["tar", "-C", str(root), "-cf", str(partial), "."], check=True)
    partial.rename(tar)
    subprocess.run(["rm", "-rf", str(root)], check=True)
