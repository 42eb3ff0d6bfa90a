"""Results of fixed model calls kept per model file, so the next run need not compute them again."""

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from forge_pipeline.lib.core.artifacts import atomic_file

Call = TypeVar("Call")


def call_key(*inputs: Any) -> str:
    """A short stable key for one call's inputs."""
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:32]


def remembered(
    memo: dict[str, Any] | None,
    calls: dict[str, Call],
    valid: Callable[[Any], bool],
    compute: Callable[[list[Call]], list[Any]],
) -> dict[str, Any]:
    """Each call's result by its key: read from one model's memo where it holds a valid one,
    computed together for the rest; the memo is left holding these calls' results only."""
    memo = {} if memo is None else memo
    found = {key: memo[key] for key in calls if valid(memo.get(key))}
    todo = [key for key in calls if key not in found]
    if todo:
        found.update(zip(todo, compute([calls[key] for key in todo]), strict=True))
    memo.clear()
    memo.update(found)
    return found


class Memo:
    """{model file's sha256: {call key: result}} in one JSON file. Saving keeps only the models
    asked for this run: the next run's deployed model is this run's new one, older ones go."""

    def __init__(self, path: Path):
        self.path = path
        self._found = _read(path)
        self._kept: dict[str, dict[str, Any]] = {}

    def of(self, model_sha: str) -> dict[str, Any]:
        """One model's results: those found, and any added to it before save."""
        return self._kept.setdefault(model_sha, dict(self._found.get(model_sha, {})))

    def forget(self, model_sha: str) -> None:
        """Leave one model's results out of the saved file."""
        self._kept.pop(model_sha, None)

    def save(self) -> None:
        """Write the results of the models asked for this run, and no other."""
        with atomic_file(self.path) as tmp:
            tmp.write_text(json.dumps(self._kept))


def _read(path: Path) -> dict[str, dict[str, Any]]:
    try:
        found = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}  # no memo, or a damaged one: everything is computed again
    if not isinstance(found, dict):
        return {}
    return {k: v for k, v in found.items() if isinstance(v, dict)}
