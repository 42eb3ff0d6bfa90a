"""Which passages of a note are the person's own words, and why each was taken or left."""

import re
from dataclasses import dataclass
from typing import Any

from forge_pipeline.lib.core.config import Extraction
from forge_pipeline.lib.dataset.blocks import Block, is_question, note_blocks
from forge_pipeline.lib.dataset.clean import join_lines, plain_text
from forge_pipeline.lib.vault.note import Note
from forge_pipeline.lib.vault.parse import inline_tags

_TASK = re.compile(
    r"^\s*(?:[-*+]\s+)?(?:\[.\]|(?:TODO|DONE|LATER|NOW|DOING|WAITING|WAIT|CANCELED|CANCELLED)\b)"
)
_PROPERTY = re.compile(r"^\s*(?:[-*+]\s+)?[\w-]+::(?:\s|$)")
# Every branch opens with a literal, so the regex engine skips ahead to the characters that can
# start one; an optional `!?` or a `\b` in front made it try every position (~6x slower).
_LINKS = re.compile(  # spans bounded, as in clean.py
    r"!\[\[[^\]\n]{0,300}\]\]|\[\[[^\]\n]{0,300}\]\]"
    r"|!\[[^\]\n]{0,300}\]\([^)\n]{0,2000}\)|\[[^\]\n]{0,300}\]\([^)\n]{0,2000}\)"
    r"|https?://\S+|\(\([^)\n]{0,300}\)\)|\{\{.{0,300}?\}\}|#[\w/-]+"
)
_LINK_MARKS = re.compile(r"\[|://|\(\(|\{\{|#")  # a line without these cannot be only links
_LETTERS = re.compile(r"[^\W\d_]{2,}")
_IMPORT_LINE = re.compile(r"^\s*(?:[-*+]\s+)?(?:Full Title|Highlights first synced)\b", re.M)
# I, me, my, mine, myself, we, our, us as whole words, in any case; led by the letters that can
# start one, for the same reason (a leading `\b` alternation under re.I was ~6x slower).
_FIRST_PERSON = re.compile(
    r"[IiMmWwOoUu](?<=\b.)(?i:(?<=i)|(?<=m)(?:e|y|yself|ine)|(?<=w)e|(?<=o)ur|(?<=u)s)\b"
)
_PRONOUN_I = re.compile(r"I\b(?<!\wI)")  # a whole-word I (I'm, I’ve too); led by the letter
_SENTENCE_END = re.compile(r"[.!?…](?:[\"')\]]|\s|$)")
# A passage that opens by greeting someone is a message (a chat catch-up, feedback), not a
# reflection, even under a free-writing heading such as Notes; greeting the diary is journaling.
_ADDRESSED = re.compile(
    r"^(?:(?i:hi|hello|hey|dear|good (?:morning|afternoon|evening))[ ,]+"
    r"(?!(?i:diary|journal|self|me|myself|future|again|old)\b)"
    r"(?:[A-Z][\w.-]*|(?i:team|all|everyone|folks|there))(?: [A-Z][\w-]*)?[,!:]|@[\w.-]+[ ,:])"
)
_CODE_FENCE = re.compile(r"```.*?```|~~~.*?~~~", re.DOTALL)
_LIST_ITEM = re.compile(r"\s*(?:[-*+]|\d{1,3}[.)])\s")  # bulleted or numbered
CODE_HEAVY_SHARE = 0.4  # a note whose text is mostly code is about code, not the person's day


@dataclass
class Passage:
    """One block of a note: taken (by which rule) with its clean text, or left and why."""

    text: str  # clean prose; empty when left before cleaning
    headings: tuple[str, ...]
    line: int
    rule: str | None  # "question", "section:Journal", "tag:#insight", "phrase:…", "prose"
    left: str | None = None  # why not taken: "quote", "link list", "score 1 < 3 (…)", …
    question: str | None = None
    signal_tags: tuple[str, ...] = ()
    outline: bool = False
    example: str | None = None  # the id of the example it went into

    @property
    def heading(self) -> str | None:
        return self.headings[-1] if self.headings else None


@dataclass(frozen=True)
class Signals:
    """The extraction rules, lower-cased once."""

    sections: frozenset[str]
    imported_headings: frozenset[str]
    imported_folders: frozenset[str]
    imported_categories: frozenset[str]
    reflection_tags: frozenset[str]
    meeting_tags: frozenset[str]
    private_tags: frozenset[str]
    my_names: frozenset[str]
    phrases: tuple[str, ...]


_SIGNALS: dict[int, tuple[Extraction, Signals]] = {}


def signals_of(rules: Extraction) -> Signals:
    """The rules' signals, computed once per rules object (every note of a run shares it)."""
    cached = _SIGNALS.get(id(rules))
    if cached and cached[0] is rules:
        return cached[1]

    def lower(items: list[str]) -> frozenset[str]:
        return frozenset(item.lower() for item in items)

    signals = Signals(
        lower(rules.sections),
        lower(rules.imported_headings),
        lower(rules.imported_folders),
        lower(rules.imported_categories),
        lower(rules.reflection_tags),
        lower(rules.meeting_tags),
        lower(rules.private_tags),
        lower(rules.my_names),
        tuple(p.lower() for p in rules.phrase_patterns),
    )
    _SIGNALS.clear()  # one set of rules at a time: a run does not mix them
    _SIGNALS[id(rules)] = (rules, signals)
    return signals


def note_exclusion(note: Note, meta: dict[str, Any], rules: Extraction) -> str | None:
    """Why no passage of a note is extracted at all, if so: private, a draft, or imported text."""
    signals = signals_of(rules)
    if _truthy(meta.get("private")) or signals.private_tags.intersection(note.tags):
        return "private note"
    if rules.skip_drafts and _truthy(meta.get("draft")):
        return "draft (extraction.skip_drafts)"
    parts = note.path.split("/")[:-1]  # vault paths use "/" on every platform
    if folder := next((p for p in parts if p.lower() in signals.imported_folders), ""):
        return f"not yours: imported ({folder}/ folder)"
    if meta and (why := _imported_by_frontmatter(meta, note.path, rules, signals)):
        return why
    body = note.body
    if ("Full Title" in body or "Highlights first" in body) and _IMPORT_LINE.search(body):
        return "not yours: imported (Full Title line)"
    code = sum(len(m) for m in _CODE_FENCE.findall(body)) if "``" in body else 0
    if code > CODE_HEAVY_SHARE * len(body):
        return "code-heavy note"
    return None


def _imported_by_frontmatter(
    meta: dict[str, Any], path: str, rules: Extraction, signals: Signals
) -> str:
    keys = {k.lower(): v for k, v in meta.items()}
    for key in rules.imported_keys:
        value = keys.get(key.lower())
        if value and not _own_address(str(value), path):
            return f"not yours: imported (frontmatter {key})"
    category = str(keys.get("category") or "").lower()
    if category in signals.imported_categories:
        return f"not yours: imported (category {category})"
    author = str(keys.get("author") or "").strip("[] ")
    if author and signals.my_names and author.lower() not in signals.my_names:
        return f"not yours: by {author} (extraction.my_names)"
    tags = keys.get("tags")
    listed = {str(t).lower().lstrip("#") for t in (tags if isinstance(tags, list) else [tags])}
    if listed & signals.meeting_tags:
        return "not yours: meeting notes"
    return ""


def _own_address(url: str, path: str) -> bool:
    """A post's own permalink (Hugo's `url:`), not the page it was clipped from.

    A path (`/post/slug/`) is on the site itself; a full address is the post's when its last
    part names the note's file (or, for `slug/index.md`, its folder).
    """
    if url.startswith("/"):
        return True
    if not url.startswith(("http://", "https://")):
        return False  # a source name, a title, an ASIN: what an importer writes
    parts = path.split("/")
    name = parts[-1].rsplit(".", 1)[0]
    if name.lower() in ("index", "_index") and len(parts) > 1:
        name = parts[-2]
    last = url.split("?", 1)[0].split("#", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    return last.rsplit(".", 1)[0].lower() == name.lower()


def _truthy(value: Any) -> bool:
    return value is True or str(value).strip().lower() in {"true", "yes", "1"}


def note_passages(note: Note, body: str, rules: Extraction) -> list[Passage]:
    """Every block of the body, taken or left by the rules, in order."""
    signals = signals_of(rules)
    passages: list[Passage] = []
    pending_prompt: Passage | None = None
    # Most notes hold no reflection tag at all: then no block's tags need reading for one.
    lowered = body.lower() if "#" in body else ""
    tag_signals = any(f"#{tag}" in lowered for tag in signals.reflection_tags)
    for block in note_blocks(body):
        passage = _passage(block, note, signals, rules.prose_min_score, tag_signals)
        if pending_prompt and _answers(passage, pending_prompt):
            passage.question, passage.rule, passage.left = pending_prompt.question, "question", None
            pending_prompt = None
        elif pending_prompt:
            passages.append(pending_prompt)
            pending_prompt = None
        if passage.left == "unanswered prompt":
            pending_prompt = passage  # a prompt on a line of its own: the next block answers it
            continue
        passages.append(passage)
    if pending_prompt:
        passages.append(pending_prompt)
    return passages


def _answers(passage: Passage, prompt: Passage) -> bool:
    """Prose right after a prompt, under the same heading, is the person's answer to it."""
    prose = passage.left is None or passage.left.startswith("score")
    return prose and passage.question is None and passage.headings == prompt.headings


def _passage(
    block: Block, note: Note, signals: Signals, min_score: int, tag_signals: bool
) -> Passage:
    def left(reason: str, text: str = "") -> Passage:
        return Passage(text, block.headings, block.line, None, reason, block.question)

    if any(h.lower() in signals.imported_headings for h in block.headings):
        return left("not yours: highlights section")
    first_line = block.raw.split("\n", 1)[0]
    tagged = "#" in first_line or any("#" in h for h in block.headings)
    if tagged and signals.meeting_tags.intersection(
        [*_tags(first_line), *_tags(" ".join(block.headings))]
    ):
        return left("not yours: meeting notes")
    if block.raw.lstrip().startswith(("```", "~~~")):
        return left("code")
    lines = [line for line in block.raw.split("\n") if line.strip()]
    if not lines:
        return left("empty")  # a bare bullet ("- ") with nothing under it
    if all(line.lstrip().startswith("|") for line in lines):
        return left("table")
    if all(line.lstrip().startswith(">") for line in lines):
        return left("not yours: quote")
    kept, reasons = _own_lines(lines)
    if not kept:
        return left(reasons[0])  # every line dropped, each for a reason
    separate = block.outline or any(_LIST_ITEM.match(line) for line in kept)
    # A wrapped paragraph is one text; list items and outline bullets stay thoughts of their own.
    cleaned = [plain_text(line) for line in kept] if separate else []
    text = join_lines(cleaned, True) if separate else plain_text("\n".join(kept))
    if not text:
        return left("markup only")
    if _ADDRESSED.match(text):
        return left("a message to someone else", text)
    question = block.question
    if question is None and block.heading and is_question(block.heading):
        question = block.heading
    if question is None and len(kept) > 1 and "?" in kept[0]:  # cleaning adds no "?"
        cleaned = cleaned or [plain_text(line) for line in kept]
        if is_question(cleaned[0]):
            question, text = cleaned[0], join_lines(cleaned[1:], separate)
    if question is None and is_question(text) and "\n" not in text:
        return Passage(text, block.headings, block.line, None, "unanswered prompt", text)
    passage = Passage(text, block.headings, block.line, None, None, question, outline=separate)
    if tag_signals:
        passage.signal_tags = tuple(t for t in _tags(block.raw) if t in signals.reflection_tags)
    _decide(passage, block.raw, note.date is not None, signals, min_score)
    return passage


def _decide(passage: Passage, raw: str, dated: bool, signals: Signals, min_score: int) -> None:
    """The rule that takes a prose passage, strongest first; or why the score leaves it."""
    headings, lowered = passage.headings, passage.text.lower()
    if passage.question:
        passage.rule = "question"
    elif section := next((h for h in reversed(headings) if h.lower() in signals.sections), None):
        passage.rule = f"section:{section}"
    elif passage.signal_tags:
        passage.rule = f"tag:#{passage.signal_tags[0]}"
    elif phrase := next((p for p in signals.phrases if p in lowered), None):
        passage.rule = f"phrase:{phrase}"
    else:
        score, why = prose_score(passage.text, raw, dated)
        if score >= min_score:
            passage.rule = "prose"
        else:
            passage.left = f"score {score} < {min_score} ({why})"


def _own_lines(lines: list[str]) -> tuple[list[str], list[str]]:
    """The lines that hold the person's words, and why the others were dropped."""
    kept, reasons = [], []
    for line in lines:
        if _TASK.match(line):
            reasons.append("task list")
        elif "::" in line and _PROPERTY.match(line):
            reasons.append("properties")
        elif line.lstrip().startswith(">"):
            reasons.append("not yours: quote")
        elif _LINK_MARKS.search(line) and not _LETTERS.search(_LINKS.sub(" ", line)):
            reasons.append("link list")
        else:
            kept.append(line)
    return kept, reasons


def _tags(raw: str) -> list[str]:
    return [t.lower() for t in inline_tags(raw)] if "#" in raw else []


def prose_score(text: str, raw: str, dated: bool) -> tuple[int, str]:
    """A transparent score of how much a paragraph reads as the person's own prose, and why."""
    words = text.split()
    first_person = _count(_FIRST_PERSON, text, 2)
    points: list[tuple[int, str]] = []
    if first_person:
        strong = first_person >= 2 or bool(_PRONOUN_I.search(text))
        points.append((2 if strong else 1, "first person"))
    else:
        points.append((-1, "no first person"))
    if _count(_SENTENCE_END, text, 2) >= 2 or (text[-1] in ".!?" and len(words) >= 12):
        points.append((1, "sentences"))
    if len(words) >= 20:
        points.append((1, "length"))
    if dated:
        points.append((1, "dated note"))
    links = _count(_LINKS, raw, 3) if _LINK_MARKS.search(raw) else 0
    if links >= 3 or len(text) < 0.6 * len(raw.strip()):
        points.append((-1, "markup or links"))
    score = sum(p for p, _ in points)
    why = ", ".join(f"{'+' if p > 0 else ''}{p} {name}" for p, name in points) or "no signal"
    return score, why


def _count(pattern: re.Pattern[str], text: str, enough: int) -> int:
    """Matches of pattern in text, counting no further than enough."""
    count = 0
    for _ in pattern.finditer(text):
        count += 1
        if count == enough:
            break
    return count
