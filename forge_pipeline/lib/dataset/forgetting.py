"""Notes, tags and examples the person took back: listed in the project, never in the vault."""

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from forge_pipeline.lib.core.artifacts import atomic_file
from forge_pipeline.lib.core.project_file import read_mapping

_EXAMPLE_ID = re.compile(r"[0-9a-f]{12}")
KINDS = ("notes", "tags", "examples")
HEADER = (
    "# Written by `forge forget`: notes, tags and examples left out of every training set, and\n"
    "# every model version trained on them deleted. `forge forget --undo ITEM` takes one back.\n"
)


class ForgetError(ValueError):
    """The forget file cannot be read as lists of notes, tags and example ids."""


@dataclass
class Forgotten:
    """Note paths (a trailing / names a folder), tags without '#', and example ids."""

    notes: set[str] = field(default_factory=set)
    tags: set[str] = field(default_factory=set)
    examples: set[str] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.notes or self.tags or self.examples)

    def names_note(self, path: str) -> bool:
        """Whether a vault path is forgotten, itself or by a folder above it."""
        return path in self.notes or any(path.startswith(n) for n in self.notes if n.endswith("/"))

    def matches(self, example: dict[str, Any]) -> bool:
        """Whether an example comes from a forgotten note or tag, or is forgotten by id."""
        tags = {str(t).lower() for t in example.get("tags") or []}
        return (
            example["id"] in self.examples
            or self.names_note(example["source_file"])
            or bool(self.tags & tags)
        )

    def items(self) -> list[str]:
        """Every entry as `forge forget` takes it: paths, #tags, ids."""
        return [*sorted(self.notes), *(f"#{t}" for t in sorted(self.tags)), *sorted(self.examples)]


def kind_of(item: str) -> str:
    """What an argument of `forge forget` names: a #tag, an example id or a note path."""
    if item.startswith("#"):
        return "tags"
    if _EXAMPLE_ID.fullmatch(item):
        return "examples"
    return "notes"


def normalized(item: str, vault: Path) -> str:
    """An entry as stored: a tag lower-cased without '#', a path relative to the vault."""
    kind = kind_of(item)
    if kind == "tags":
        return item.lstrip("#").lower()
    if kind == "examples":
        return item
    path = Path(item).expanduser()
    if path.is_absolute():
        try:
            path = path.resolve().relative_to(vault.resolve())
        except ValueError as exc:
            raise ForgetError(f"{item} is outside the vault {vault}; name a note in it.") from exc
    rel = path.as_posix().removeprefix("./")
    if rel in ("", "."):
        raise ForgetError("That names the whole vault; name a note, a folder, a #tag or an id.")
    folder = item.endswith("/") or (vault / rel).is_dir()
    return rel.rstrip("/") + "/" if folder else rel


def load_forgotten(path: Path) -> Forgotten:
    """The forget file at path; no file forgets nothing."""
    raw = read_mapping(path, set(KINDS), ForgetError, "Forget file")
    lists = {kind: raw.get(kind) or [] for kind in KINDS}
    if not all(isinstance(v, list) for v in lists.values()):
        raise ForgetError(f"In {path}, {', '.join(KINDS)} must each be a list.")
    return Forgotten(*({str(item) for item in lists[kind]} for kind in KINDS))


def save_forgotten(path: Path, forgotten: Forgotten) -> None:
    """Write the forget file atomically, entries sorted."""
    lists = {kind: sorted(getattr(forgotten, kind)) for kind in KINDS}
    with atomic_file(path) as tmp:
        tmp.write_text(HEADER + yaml.safe_dump(lists, sort_keys=False), encoding="utf-8")


def forget(path: Path, entry: str, kind: str) -> bool:
    """Add one normalized entry; False when it was already forgotten."""
    forgotten = load_forgotten(path)
    entries = getattr(forgotten, kind)
    if entry in entries:
        return False
    entries.add(entry)
    save_forgotten(path, forgotten)
    return True


def unforget(path: Path, entry: str, kind: str) -> bool:
    """Take one entry back; False when it was not forgotten."""
    forgotten = load_forgotten(path)
    entries = getattr(forgotten, kind)
    if entry not in entries:
        return False
    entries.discard(entry)
    save_forgotten(path, forgotten)
    return True
