"""Read a Markdown vault (read-only): frontmatter, tags, date, title, body per note."""

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

IGNORED_DIRS = {".obsidian", ".trash", ".git", "templates", "template"}
MAX_NOTE_BYTES = 2_000_000

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
    frontmatter: dict[str, Any] = field(default_factory=dict)


@dataclass
class Skipped:
    """A file that could not be read as a note, and why."""

    path: str
    reason: str


@dataclass
class VaultScan:
    """Every Markdown file of a vault: parsed notes and skipped files."""

    notes: list[Note]
    skipped: list[Skipped]
    files_seen: int


class VaultError(ValueError):
    """The vault path itself is unusable."""


def scan_vault(vault: Path) -> VaultScan:
    """Parse every Markdown note under vault; files that fail are skipped with a reason."""
    if not vault.is_dir():
        raise VaultError(
            f"Vault folder {vault} does not exist; set FORGE_VAULT or 'vault' in forge.yaml."
        )
    notes: list[Note] = []
    skipped: list[Skipped] = []
    files = sorted(_markdown_files(vault))
    for path in files:
        rel = path.relative_to(vault).as_posix()
        try:
            result = read_note(path, rel)
        except OSError as exc:
            result = Skipped(rel, f"unreadable: {exc.strerror or exc}")
        (notes if isinstance(result, Note) else skipped).append(result)  # type: ignore[arg-type]
    return VaultScan(notes=notes, skipped=skipped, files_seen=len(files))


def _markdown_files(vault: Path):
    for path in vault.rglob("*.md"):
        parts = path.relative_to(vault).parts[:-1]
        if any(part.lower() in IGNORED_DIRS or part.startswith(".") for part in parts):
            continue
        yield path


def read_note(path: Path, rel: str) -> Note | Skipped:
    """Read and parse one note file, or say why it was skipped."""
    if path.stat().st_size > MAX_NOTE_BYTES:
        return Skipped(rel, f"larger than {MAX_NOTE_BYTES} bytes")
    data = path.read_bytes()
    if not data.strip():
        return Skipped(rel, "empty file")
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
        frontmatter={k: str(v) for k, v in meta.items()},
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
