"""The review file: exclusions and edits of examples by stable id, kept in the project."""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from forge_pipeline.lib.core.project_file import read_mapping


class ReviewError(ValueError):
    """The review file cannot be read as exclusions and edits."""


@dataclass
class Review:
    """Example ids to drop, and replacement turns for others."""

    exclude: set[str] = field(default_factory=set)
    edit: dict[str, dict[str, str]] = field(default_factory=dict)

    def ids(self) -> set[str]:
        """Every id the review names."""
        return self.exclude | set(self.edit)

    def apply(self, example: dict[str, Any]) -> dict[str, Any]:
        """The example with its reviewed user and assistant turns, if it has any."""
        changes = self.edit.get(example["id"])
        if not changes:
            return example
        messages = [
            {**m, "content": changes.get(m["role"], m["content"])} for m in example["messages"]
        ]
        return {**example, "messages": messages, "reviewed": True}


def load_review(path: Path) -> Review:
    """The review at path; no file is an empty review."""
    raw = read_mapping(path, {"exclude", "edit"}, ReviewError, "Review file")
    exclude = raw.get("exclude") or []
    edit = raw.get("edit") or {}
    if not isinstance(exclude, list) or not isinstance(edit, dict):
        raise ReviewError(f"In {path}, 'exclude' must be a list of ids and 'edit' a mapping.")
    for example_id, changes in edit.items():
        if not isinstance(changes, dict) or not changes or set(changes) - {"user", "assistant"}:
            raise ReviewError(
                f"In {path}, edit of {example_id} must set 'user' and/or 'assistant' text."
            )
    return Review(
        exclude={str(i) for i in exclude},
        edit={str(k): {r: str(t) for r, t in v.items()} for k, v in edit.items()},
    )
