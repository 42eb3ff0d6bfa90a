"""Parse one note's text (read-only): frontmatter, tags, date, title, body."""

import datetime as dt
import hashlib
import re
from pathlib import Path
from typing import Any

import yaml

from forge_pipeline.lib.vault.note import Note

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
# Real frontmatter is a few lines; past these, YAML's loaders exhaust memory, recursion or crash.
MAX_FRONTMATTER_CHARS = 16_384
MAX_NESTING = 32
MAX_TITLE_CHARS = 300
MAX_TAG_CHARS = 100
MAX_TAGS = 200


def parse_note(text: str, rel: str, sha256: str = "") -> Note:
    """Parse note text; bad frontmatter is recorded as a problem, not a failure."""
    meta: dict[str, Any] = {}
    problem = None
    body = text
    if text.startswith("---") and (match := _FRONTMATTER.match(text)):
        body = text[match.end() :]
        meta, problem = _frontmatter(match.group(1))
    tags = _frontmatter_tags(meta.get("tags")) + inline_tags(body)
    tags = [tag.lower() for tag in tags if len(tag) <= MAX_TAG_CHARS]
    return Note(
        path=rel,
        title=str(meta.get("title") or _first_h1(body) or Path(rel).stem)[:MAX_TITLE_CHARS],
        date=_note_date(meta, rel),
        tags=list(dict.fromkeys(tags))[:MAX_TAGS],
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
    if len(text) > MAX_FRONTMATTER_CHARS:
        return {}, f"frontmatter over {MAX_FRONTMATTER_CHARS:,} characters, ignored"
    if _nesting(text) > MAX_NESTING:
        return {}, f"frontmatter nested over {MAX_NESTING} levels deep, ignored"
    try:
        if "*" in text and any(
            isinstance(e, yaml.AliasEvent) for e in yaml.parse(text, Loader=_SAFE_LOADER)
        ):
            # Aliases can expand a few hundred bytes into gigabytes once the values are used.
            return {}, "frontmatter uses YAML aliases (*name), ignored"
        loaded = yaml.load(text, Loader=_SAFE_LOADER)  # noqa: S506 (a safe loader)
    except (yaml.YAMLError, ValueError, RecursionError) as exc:
        return {}, f"frontmatter is not valid YAML ({_first_line(exc)})"
    if isinstance(loaded, dict):
        return loaded, None
    return {}, None if loaded is None else "frontmatter is not a key: value mapping"


def _nesting(text: str) -> int:
    """How deep frontmatter nests, over-counted: flow brackets, and indents and dashes of a line."""
    flow = deepest = 0
    if text.count("[") + text.count("{") > MAX_NESTING:
        for char in text:
            if char in "[{":
                flow += 1
                deepest = max(deepest, flow)
            elif char in "]}":
                flow -= 1
    block = max((len(line) - len(line.lstrip(" -?:")) for line in text.splitlines()), default=0)
    return max(deepest, block // 2)


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
    name = rel.rsplit("/", 1)[-1]
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
