"""Versioned model registry on disk with an atomic `current` pointer."""

import datetime as dt
import json
import os
import re
import shutil
import uuid
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from forge_pipeline.lib.core.artifacts import atomic_file, sha256_file
from forge_pipeline.lib.core.run_lock import one_at_a_time

_VERSION = re.compile(r"^v(\d{4,})$")


class RegistryError(RuntimeError):
    """The registry has nothing to serve or a version is missing."""


@dataclass
class Removal:
    """What remove did: versions deleted, the version now current, one left serving if any."""

    deleted: list[str]
    current: str | None
    still_serving: str | None  # a removed version kept only until a replacement is deployed


class ModelRegistry:
    """versions/vNNNN/{*.gguf, *.Modelfile, manifest.json}; `current` is an atomic symlink."""

    def __init__(self, root: Path):
        self.root = root
        self.versions_dir = root / "versions"

    def versions(self) -> list[str]:
        """Registered versions, oldest first (compared by number, not by text).

        A version is registered once its manifest is written; its files are copied before.
        """
        return [v for v in self._claimed() if (self.versions_dir / v / "manifest.json").exists()]

    def _claimed(self) -> list[str]:
        if not self.versions_dir.is_dir():
            return []
        found = [p.name for p in self.versions_dir.iterdir() if _VERSION.fullmatch(p.name)]
        return sorted(found, key=lambda name: int(name[1:]))

    def current_version(self) -> str | None:
        """The version `current` points at, if any."""
        return self._link_target("current")

    def current_model(self) -> Path:
        """The GGUF file being served."""
        version = self.current_version()
        if version is None:
            raise RegistryError(f"No model deployed in {self.root} yet; run the forge_full job.")
        return self.model_path(version)

    def model_path(self, version: str) -> Path:
        """The served GGUF file of one version: a file of that version's own folder."""
        serve_file = self.manifest(version).get("serve_file")
        path = self.versions_dir / version / str(serve_file)
        if not isinstance(serve_file, str) or Path(serve_file).name != serve_file:
            raise RegistryError(
                f"The manifest of {version} names {serve_file!r}, not a file of its own folder; "
                "roll back or re-run forge_full."
            )
        if not self.contains(path):
            raise RegistryError(f"{path} is missing; roll back or re-run forge_full.")
        return path

    def manifest(self, version: str) -> dict[str, Any]:
        """The manifest of one version."""
        if not _VERSION.fullmatch(version):
            raise RegistryError(f"{version!r} is not a version name such as v0001.")
        path = self.versions_dir / version / "manifest.json"
        if not path.exists():
            raise RegistryError(f"Version {version} is not in {self.root}.")
        try:
            manifest = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise RegistryError(
                f"The manifest of {version} is unreadable ({exc}); roll back or re-run forge_full."
            ) from exc
        if not isinstance(manifest, dict):
            raise RegistryError(f"The manifest of {version} is not a JSON object; roll back.")
        return manifest

    def register(self, files: list[Path], serve_file: str, info: dict[str, Any]) -> dict[str, Any]:
        """Copy files in as the next version and return its manifest (does not activate it)."""
        if serve_file not in {f.name for f in files}:
            raise RegistryError(f"{serve_file} is not among the files to register.")
        with self._locked():
            folder = self._claim()
            for file in files:
                shutil.copy2(file, folder / file.name)
            manifest = {
                **info,  # first, so nothing in it can stand in for the registry's own keys
                "version": folder.name,
                "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "serve_file": serve_file,
                "files": {
                    f.name: {"sha256": sha256_file(f), "bytes": f.stat().st_size} for f in files
                },
            }
            with atomic_file(folder / "manifest.json") as tmp:
                tmp.write_text(json.dumps(manifest, indent=2))
        return manifest

    def _claim(self) -> Path:
        """The next version's folder, made here: an exclusive mkdir, so no two runs share one."""
        self.versions_dir.mkdir(parents=True, exist_ok=True)
        claimed = self._claimed()
        number = int(claimed[-1][1:]) + 1 if claimed else 1
        while True:
            folder = self.versions_dir / f"v{number:04d}"
            try:
                folder.mkdir()
                return folder
            except FileExistsError:
                number += 1

    def _locked(self) -> AbstractContextManager[None]:
        """One registry change at a time, across processes."""
        return one_at_a_time(self.root / ".lock", "a registry change", lambda _: None)

    def contains(self, path: Path) -> bool:
        """Whether a path resolves to a file inside this registry's versions."""
        try:
            path.resolve(strict=True).relative_to(self.versions_dir.resolve(strict=True))
        except (OSError, ValueError):
            return False
        return path.resolve().is_file()

    def previous_version(self) -> str | None:
        """The version that was current before the current one."""
        return self._link_target("previous")

    def activate(self, version: str) -> None:
        """Point `current` at a version atomically; the old target stays as `previous`."""
        with self._locked():
            self._activate(version)

    def _activate(self, version: str) -> None:
        self.manifest(version)  # raises RegistryError when the version is missing
        old = self.current_version()
        if old and old != version:
            self._swap_link("previous", old)
        self._swap_link("current", version)

    def rollback(self) -> str:
        """Make the previous version current again; return it."""
        with self._locked():
            previous = self.previous_version()
            if previous is None:
                raise RegistryError(f"No previous version in {self.root} to roll back to.")
            self._activate(previous)
        return previous

    def prune(self, keep: int) -> list[str]:
        """Delete the oldest versions beyond `keep`, never current or previous."""
        with self._locked():
            protected = {self.current_version(), self.previous_version()}
            removable = [v for v in self.versions() if v not in protected]
            doomed = removable[: max(0, len(self.versions()) - keep)]
            for version in doomed:
                shutil.rmtree(self.versions_dir / version)
        return doomed

    def remove(self, doomed: set[str]) -> Removal:
        """Delete versions; current and previous move to the newest versions kept.

        A doomed current version with nothing to move to keeps serving (and is kept) until a
        new version is deployed: never a gap.
        """
        with self._locked():
            current, previous = self.current_version(), self.previous_version()
            kept = [v for v in self.versions() if v not in doomed]
            serving_doomed = None
            if current in doomed:
                if kept:
                    current = kept[-1]
                    self._swap_link("current", current)
                else:
                    serving_doomed = current
            if previous in doomed or previous == current:
                others = [v for v in kept if v != current]
                if others:
                    self._swap_link("previous", others[-1])
                else:
                    (self.root / "previous").unlink(missing_ok=True)
            deleted = [v for v in self._claimed() if v in doomed and v != serving_doomed]
            for version in deleted:
                shutil.rmtree(self.versions_dir / version)
        return Removal(deleted, current, serving_doomed)

    def _link_target(self, name: str) -> str | None:
        link = self.root / name
        return os.readlink(link).rsplit("/", 1)[-1] if link.is_symlink() else None

    def _swap_link(self, name: str, version: str) -> None:
        tmp = self.root / f".{name}.{uuid.uuid4().hex}.tmp"
        tmp.symlink_to(f"versions/{version}")
        os.replace(tmp, self.root / name)
