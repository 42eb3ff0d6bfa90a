"""Read a Markdown vault (read-only): frontmatter, tags, date, title, body per note."""

import datetime as dt
import errno
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from forge_pipeline.lib.config import Parsing

_FRONTMATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.DOTALL)
_FENCED_CODE = re.compile(r"```.*?```|~~~.*?~~~", re.DOTALL)
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_URL = re.compile(r"\bhttps?://\S+")
_INLINE_TAG = re.compile(r"(?<![\w/#&\[])#([A-Za-z][\w\-/]*)")
_DATE_IN_NAME = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_H1 = re.compile(r"^#\s+(.+?)\s*$", re.MULTILINE)


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
    stamp: "Stamp | None" = None


@dataclass
class Skipped:
    """A file that was not parsed as a note, and why."""

    path: str
    reason: str


@dataclass
class VaultScan:
    """Every file of a vault, accounted for: parsed notes, reused notes and skipped files."""

    notes: list[Note]
    skipped: list[Skipped]
    files_seen: int
    notes_reused: int = 0


@dataclass(frozen=True)
class Stamp:
    """Size and modification time: a note whose stamp is unchanged is not read again."""

    size: int
    mtime_ns: int


class VaultError(ValueError):
    """The vault path itself is unusable."""


def scan_vault(
    vault: Path, rules: Parsing | None = None, previous: dict[str, tuple[Stamp, Note]] | None = None
) -> VaultScan:
    """Account for every file under vault (read-only); parse new and changed notes only."""
    rules = rules or Parsing()
    if not vault.is_dir():
        raise VaultError(
            f"Vault folder {vault} does not exist; set FORGE_VAULT or 'vault' in forge.yaml."
        )
    previous = previous or {}
    scan = VaultScan(notes=[], skipped=[], files_seen=0)
    for path, reason in _walk(vault, rules):
        rel = path.relative_to(vault).as_posix()
        scan.files_seen += 1
        if reason:
            scan.skipped.append(Skipped(rel, reason))
            continue
        try:
            stat = path.stat()
            stamp = Stamp(stat.st_size, stat.st_mtime_ns)
            if rel in previous and previous[rel][0] == stamp:
                scan.notes.append(previous[rel][1])
                scan.notes_reused += 1
                continue
            result = read_note(path, rel, rules.max_note_kb * 1024)
        except OSError as exc:
            result = Skipped(rel, _os_reason(exc))
        if isinstance(result, Note):
            result.stamp = stamp
            scan.notes.append(result)
        else:
            scan.skipped.append(result)
    scan.notes.sort(key=lambda n: n.path)
    scan.skipped.sort(key=lambda s: s.path)
    return scan


def _walk(vault: Path, rules: Parsing):
    """Every file under vault with None (a note to read) or the reason it is skipped."""
    ignored = {name.lower() for name in rules.ignore_dirs}
    for root, dirs, files in os.walk(vault, followlinks=False):
        here = Path(root)
        skip_reason = _ignored_reason(here.relative_to(vault), ignored)
        for name in sorted(files):
            path = here / name
            if skip_reason:
                yield path, skip_reason
            elif not name.lower().endswith(".md"):
                yield path, "not a Markdown file"
            else:
                yield path, None
        for name in sorted(dirs):
            if (here / name).is_symlink():
                yield here / name, "symlinked folder (not followed)"
        dirs[:] = sorted(d for d in dirs if not (here / d).is_symlink())


def _ignored_reason(rel_dir: Path, ignored: set[str]) -> str | None:
    for part in rel_dir.parts:
        if part.lower() in ignored:
            return f"in ignored folder {part}/"
    return None


def _os_reason(exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "symlink loop"
    return f"unreadable: {exc.strerror or exc}"


def read_note(path: Path, rel: str, max_bytes: int = 2 << 20) -> Note | Skipped:
    """Read and parse one note file, or say why it was skipped."""
    if path.stat().st_size > max_bytes:
        return Skipped(rel, f"larger than {max_bytes // 1024} KB (parsing.max_note_kb)")
    data = path.read_bytes()
    if not data.strip():
        return Skipped(rel, "empty file")
    if b"\x00" in data[:8192]:
        return Skipped(rel, "binary file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Skipped(rel, f"not valid UTF-8 (byte {exc.start}); re-save the note as UTF-8")
    return parse_note(text, rel, hashlib.sha256(data).hexdigest())


def parse_note(text: str, rel: str, sha256: str = "") -> Note:
    """Parse note text; bad frontmatter is recorded as a problem, not a failure."""
    meta: dict[str, Any] = {}
    problem = None
    body = text
    if match := _FRONTMATTER.match(text):
        body = text[match.end() :]
        try:
            loaded = yaml.safe_load(match.group(1))
            if isinstance(loaded, dict):
                meta = loaded
            elif loaded is not None:
                problem = "frontmatter is not a key: value mapping"
        except yaml.YAMLError as exc:
            problem = f"frontmatter is not valid YAML ({_first_line(exc)})"
    tags = _frontmatter_tags(meta.get("tags")) + inline_tags(body)
    return Note(
        path=rel,
        title=str(meta.get("title") or _first_h1(body) or Path(rel).stem),
        date=_note_date(meta, rel),
        tags=list(dict.fromkeys(tag.lower() for tag in tags)),
        body=body.strip(),
        sha256=sha256 or hashlib.sha256(text.encode()).hexdigest(),
        problem=problem,
    )


def inline_tags(body: str) -> list[str]:
    """#tags in the text, outside code blocks, inline code and URLs."""
    text = _URL.sub(" ", _INLINE_CODE.sub(" ", _FENCED_CODE.sub(" ", body)))
    return _INLINE_TAG.findall(text)


def _frontmatter_tags(value: Any) -> list[str]:
    if isinstance(value, str):
        return [t.strip().lstrip("#") for t in re.split(r"[,\s]+", value) if t.strip()]
    if isinstance(value, list):
        return [str(t).strip().lstrip("#") for t in value if str(t).strip()]
    return []


def _note_date(meta: dict[str, Any], rel: str) -> str | None:
    for key in ("date", "created"):
        value = meta.get(key)
        if isinstance(value, (dt.date, dt.datetime)):
            return value.isoformat()[:10]
        if isinstance(value, str) and (found := _valid_date(value)):
            return found
    return _valid_date(Path(rel).name)


def _valid_date(text: str) -> str | None:
    match = _DATE_IN_NAME.search(text)
    if not match:
        return None
    try:
        return dt.date(*map(int, match.groups())).isoformat()
    except ValueError:
        return None


def _first_h1(body: str) -> str | None:
    match = _H1.search(body)
    return match.group(1) if match else None


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0]
