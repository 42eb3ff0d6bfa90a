"""The records a vault scan produces: a parsed note, its file stamp, a skipped file."""

from dataclasses import dataclass, field
from typing import Any, NamedTuple


class Stamp(NamedTuple):
    """Size and modification time: a note whose stamp is unchanged is not read again."""

    size: int
    mtime_ns: int


@dataclass
class Note:
    """One parsed note."""

    path: str
    title: str
    date: str | None
    tags: list[str]
    body: str
    sha256: str
    problem: str | None = None
    stamp: Stamp | None = None
    aliases: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)  # the frontmatter (private, draft, url, …)


@dataclass
class Skipped:
    """A file that was not parsed as a note, and why."""

    path: str
    reason: str
