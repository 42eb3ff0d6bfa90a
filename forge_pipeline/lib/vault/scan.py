"""Read a Markdown vault (read-only): frontmatter, tags, date, title, body per note."""

import datetime as dt
import errno
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml

from forge_pipeline.lib.core.config import Parsing
from forge_pipeline.lib.core.source_key import source_key
from forge_pipeline.lib.core.workers import chunk_slices, map_in_workers, worth_workers
from forge_pipeline.lib.vault.note import Note, Skipped, Stamp
from forge_pipeline.lib.vault.notes_store import (
    PARSER_KEY,
    merged_table,
    notes_from_table,
    notes_table,
    read_stamps,
    write_arrow,
)

_FRONTMATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.DOTALL)
_FENCED_CODE = re.compile(r"```.*?```|~~~.*?~~~", re.DOTALL)
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_URL = re.compile(r"\bhttps?://\S+")
_LINK_TARGET = re.compile(r"\]\([^)]*\)")  # a Markdown link's (target), anchors included
_TAG_CANDIDATE = re.compile(r"#([A-Za-z][\w\-/]*)")
# Daily-note dates: 2026-01-05, 2026_01_05, 2026.01.05 or 20260105 in a name; 2026/01/05 as folders.
_DATE_IN_NAME = re.compile(
    r"(?<!\d)(?P<y>(?:19|20)\d\d)(?P<sep>[-_.]?)(?P<m>0[1-9]|1[0-2])(?P=sep)"
    r"(?P<d>0[1-9]|[12]\d|3[01])(?!\d)"
)
_DATE_IN_FOLDERS = re.compile(
    r"(?<!\d)(?P<y>(?:19|20)\d\d)/(?P<m>0[1-9]|1[0-2])/(?P<d>0[1-9]|[12]\d|3[01])(?!\d)"
)
# Roam's and many Obsidian setups' names: "January 31st, 2024", "Jan 31st, 2024, Wednesday".
_DATE_IN_WORDS = re.compile(
    r"\b(?P<month>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.? "
    r"(?P<d>[0-3]?\d)(?:st|nd|rd|th)?,? (?P<y>(?:19|20)\d\d)\b",
    re.IGNORECASE,
)
_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
_H1 = re.compile(r"^#\s+(.+?)\s*$", re.MULTILINE)
_FM_KEY = re.compile(r"([A-Za-z_][\w-]*):(?:[ \t]+(.*?))?[ \t]*")
_FM_ITEM = re.compile(r"[ \t]*-[ \t]+(.*?)[ \t]*")
_PLAIN = re.compile(r"[^\s'\"\[\]{}&*!|>%@`#,?:-](?:[^\[\]{}#:,]|:(?! )|#(?<! #))*")
_YAML_DATE = re.compile(r"\d{4}-\d\d?-\d\d?")
_NULLS = {"null", "Null", "NULL", "~"}
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass
class VaultScan:
    """Every file of a vault, accounted for: notes read now, unchanged notes, skipped files."""

    table: pa.Table  # the notes read now, in notes_store's schema
    skipped: list[Skipped]
    files_seen: int
    reused: list[str]

    @property
    def notes(self) -> list[Note]:
        """The notes read now, as records."""
        return notes_from_table(self.table)


class VaultError(ValueError):
    """The vault path itself is unusable."""


# Below this many files to read, starting worker processes costs more than it saves.
PARALLEL_MIN_FILES = 4000


def scan_vault(
    vault: Path,
    rules: Parsing | None = None,
    previous: dict[str, tuple[int, int]] | None = None,
) -> VaultScan:
    """Account for every file under vault (read-only); read new and changed notes only."""
    rules = rules or Parsing()
    if not vault.is_dir():
        raise VaultError(
            f"Vault folder {vault} does not exist; set FORGE_VAULT or 'vault' in forge.yaml."
        )
    previous = previous or {}
    skipped: list[Skipped] = []
    reused: list[str] = []
    to_read: list[tuple[str, str, Stamp]] = []
    files_seen = 0
    for path, rel, found in _walk(vault, rules):
        files_seen += 1
        if isinstance(found, str):
            skipped.append(Skipped(rel, found))
        elif previous.get(rel) == found:
            reused.append(rel)
        else:
            to_read.append((path, rel, found))
    table, unreadable = _read_all(to_read, rules.max_note_kb * 1024)
    return VaultScan(
        table=table.sort_by("path"),
        skipped=sorted(skipped + unreadable, key=lambda s: s.path),
        files_seen=files_seen,
        reused=reused,
    )


def vault_fingerprint(vault: Path, rules: Parsing) -> str:
    """A hash of every note's path, size and modification time: cheap, reads no note."""
    digest = hashlib.sha256()
    for _, rel, found in sorted(_walk(vault, rules), key=lambda item: item[1]):
        if not isinstance(found, str):
            digest.update(f"{rel}:{found.size}:{found.mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def refresh_notes(vault: Path, rules: Parsing, target: Path) -> VaultScan:
    """Scan the vault and rewrite the notes table at target, reading only what changed."""
    parser = source_key(__file__)  # notes parsed by other code (an upgrade) are read again
    previous = read_stamps(target, parser)
    scan = scan_vault(vault, rules, previous)
    if not previous or scan.table.num_rows or len(scan.reused) != len(previous):
        table = merged_table(target if previous else None, scan.reused, scan.table)
        write_arrow(target, table.replace_schema_metadata({PARSER_KEY: parser}))
    return scan


def _read_all(files: list[tuple[str, str, Stamp]], max_bytes: int) -> tuple[pa.Table, list]:
    """Read and parse files, in worker processes when there are many (a cold 100k vault)."""
    if not worth_workers(len(files), PARALLEL_MIN_FILES):
        return _read_chunk(files, max_bytes)
    # Workers send back Arrow tables, which cross processes ~30x cheaper than pickled Notes.
    chunks = [files[part] for part in chunk_slices(len(files))]
    parts = map_in_workers(_read_chunk, chunks, max_bytes)
    return (
        pa.concat_tables([table for table, _ in parts]),
        [skip for _, skipped in parts for skip in skipped],
    )


def _read_chunk(
    files: list[tuple[str, str, Stamp]], max_bytes: int
) -> tuple[pa.Table, list[Skipped]]:
    notes: list[Note] = []
    skipped: list[Skipped] = []
    for path, rel, stamp in files:
        try:
            result = read_note(path, rel, max_bytes, stamp.size)
        except OSError as exc:
            result = Skipped(rel, _os_reason(exc))
        if isinstance(result, Note):
            result.stamp = stamp
            notes.append(result)
        else:
            skipped.append(result)
    return notes_table(notes), skipped


def _walk(vault: Path, rules: Parsing):
    """Every file under vault: (path, relative path, its Stamp or the reason it is skipped)."""
    ignored = {name.lower() for name in rules.ignore_dirs}
    pending = [(str(vault), "", None)]
    while pending:
        folder, prefix, skip_reason = pending.pop()
        try:
            entries = list(os.scandir(folder))  # unsorted: scan_vault sorts what it returns
        except OSError as exc:
            yield folder, prefix.rstrip("/") or ".", f"unreadable folder: {exc.strerror or exc}"
            continue
        folders = []
        for entry in entries:
            rel = prefix + entry.name
            if entry.is_dir(follow_symlinks=False):
                folders.append(entry)
            elif entry.is_symlink() and _links_to_folder(entry):
                yield entry.path, rel, "symlinked folder (not followed)"
            elif skip_reason:
                yield entry.path, rel, skip_reason
            elif not entry.name.lower().endswith(".md"):
                yield entry.path, rel, "not a Markdown file"
            else:
                try:
                    stat = entry.stat()
                    yield entry.path, rel, Stamp(stat.st_size, stat.st_mtime_ns)
                except OSError as exc:
                    yield entry.path, rel, _os_reason(exc)
        for entry in reversed(folders):
            reason = skip_reason
            if not reason and entry.name.lower() in ignored:
                reason = f"in ignored folder {entry.name}/"
            pending.append((entry.path, prefix + entry.name + "/", reason))


def _links_to_folder(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False  # a loop or a dangling link: reading it says which


def _os_reason(exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "symlink loop"
    return f"unreadable: {exc.strerror or exc}"


def read_note(
    path: str | Path, rel: str, max_bytes: int = 2 << 20, size: int = 0
) -> Note | Skipped:
    """Read and parse one note file, or say why it was skipped."""
    if (size or os.stat(path).st_size) > max_bytes:
        return Skipped(rel, f"larger than {max_bytes // 1024} KB (parsing.max_note_kb)")
    with open(path, "rb") as handle:
        data = handle.read(max_bytes + 1)
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
    if text.startswith("---") and (match := _FRONTMATTER.match(text)):
        body = text[match.end() :]
        meta, problem = _frontmatter(match.group(1))
    tags = _frontmatter_tags(meta.get("tags")) + inline_tags(body)
    return Note(
        path=rel,
        title=str(meta.get("title") or _first_h1(body) or Path(rel).stem),
        date=_note_date(meta, rel),
        tags=list(dict.fromkeys(tag.lower() for tag in tags)),
        body=body.strip(),
        sha256=sha256 or hashlib.sha256(text.encode()).hexdigest(),
        problem=problem,
        aliases=_frontmatter_tags(meta.get("aliases"), separators=","),
        meta=meta,
    )


def _frontmatter(text: str) -> tuple[dict[str, Any], str | None]:
    """Frontmatter as a mapping and any problem; plain key: value lines skip the YAML parser."""
    simple = simple_frontmatter(text)
    if simple is not None:
        return simple, None
    try:
        loaded = yaml.load(text, Loader=_SAFE_LOADER)  # noqa: S506 (a safe loader)
    except (yaml.YAMLError, ValueError) as exc:
        return {}, f"frontmatter is not valid YAML ({_first_line(exc)})"
    if isinstance(loaded, dict):
        return loaded, None
    return {}, None if loaded is None else "frontmatter is not a key: value mapping"


def simple_frontmatter(text: str) -> dict[str, Any] | None:
    """Frontmatter of only plain scalars and lists, read without YAML; None when not that simple.

    Most notes' frontmatter is a few `key: value` lines; this reads them ~50x faster than a YAML
    parser and gives the same strings. Anything richer (quotes, nesting, anchors) returns None.
    """
    meta: dict[str, Any] = {}
    key = None
    for line in text.splitlines():
        if not line.strip():
            continue
        if key and (item := _FM_ITEM.fullmatch(line)):
            if not isinstance(meta[key], list) or not _plain(item.group(1)):
                return None
            meta[key].append(item.group(1))
            continue
        found = _FM_KEY.fullmatch(line)
        if not found or found.group(1) in meta:
            return None
        key, value = found.group(1), found.group(2)
        if not value:
            meta[key] = []
        elif value.startswith("[") and value.endswith("]"):
            items = [v.strip() for v in value[1:-1].split(",") if v.strip()]
            if not all(_plain(v) for v in items):
                return None
            meta[key] = items
        elif _plain(value):
            meta[key] = None if value in _NULLS else value
        else:
            return None
    return {k: v if v != [] else None for k, v in meta.items()}


def _plain(value: str) -> bool:
    """A value YAML would read as the same plain string (or a valid date)."""
    if not _PLAIN.fullmatch(value):
        return False
    if _YAML_DATE.fullmatch(value):
        return _valid_date(value) is not None  # YAML would fail on 30 February
    return True


def inline_tags(body: str) -> list[str]:
    """#tags in the text, outside code blocks, inline code, URLs and link targets."""
    if "#" not in body:
        return []
    # Each pass only where its marker occurs: most notes have no code and no links.
    if "```" in body or "~~~" in body:
        body = _FENCED_CODE.sub(" ", body)
    if "`" in body:
        body = _INLINE_CODE.sub(" ", body)
    if "](" in body:
        body = _LINK_TARGET.sub("]", body)
    if "://" in body:
        body = _URL.sub(" ", body)
    return [m.group(1) for m in tag_matches(body)]


def tag_matches(text: str) -> list[re.Match[str]]:
    """Each #tag of text that is not glued to a word, path, entity or link before it."""
    # A lookbehind in the pattern costs ~25x more than checking the one character here.
    return [
        m
        for m in _TAG_CANDIDATE.finditer(text)
        if m.start() == 0 or not _glued(text[m.start() - 1])
    ]


def _glued(char: str) -> bool:
    return char.isalnum() or char in "_/#&["


def _frontmatter_tags(value: Any, separators: str = r",\s") -> list[str]:
    if isinstance(value, str):
        return [t.strip().lstrip("#") for t in re.split(f"[{separators}]+", value) if t.strip()]
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
    return daily_date(rel)


def daily_date(rel: str) -> str | None:
    """The day a daily note is for, from its name or its year/month/day folders; else None."""
    name = Path(rel).name
    return _valid_date(name) or _valid_date(rel, _DATE_IN_FOLDERS) or _date_in_words(name)


def _date_in_words(name: str) -> str | None:
    match = _DATE_IN_WORDS.search(name)
    if not match:
        return None
    month = _MONTHS.index(match.group("month").lower()) + 1
    try:
        return dt.date(int(match.group("y")), month, int(match.group("d"))).isoformat()
    except ValueError:
        return None


def _valid_date(text: str, pattern: re.Pattern[str] = _DATE_IN_NAME) -> str | None:
    match = pattern.search(text)
    if not match:
        return None
    try:
        return dt.date(*(int(match.group(part)) for part in "ymd")).isoformat()
    except ValueError:
        return None


def _first_h1(body: str) -> str | None:
    match = _H1.search(body)
    return match.group(1) if match else None


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0]
