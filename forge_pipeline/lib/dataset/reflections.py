"""Find reflections in parsed notes and turn each into a chat-format training example."""

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from forge_pipeline.lib.core.config import Extraction
from forge_pipeline.lib.core.example_id import example_id
from forge_pipeline.lib.vault.note import Note
from forge_pipeline.lib.vault.scan import inline_tags, tag_matches
from forge_pipeline.lib.vault.templates import PLACEHOLDER, without_template_lines

_HEADER = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$", re.MULTILINE)
_HEADING_MARKUP = re.compile(r"[\[\]*_=~`%<>#]")
_EMBED = re.compile(r"!\[\[[^\]]*\]\]")
_WIKILINK = re.compile(r"\[\[([^\]|#]*)(?:#[^\]|]*)?(?:\|([^\]]*))?\]\]")
_MD_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_CHECKBOX = re.compile(r"^\s*[-*+]\s+\[.\]\s*", re.MULTILINE)
_BULLET = re.compile(r"^\s*(?:[-*+]|\d+\.)\s+", re.MULTILINE)
_QUOTE = re.compile(r"^\s*>\s?(?:\[![^\]]*\][+-]?\s*)?", re.MULTILINE)
_COMMENTS = re.compile(r"%%.*?%%|<!--.*?-->", re.DOTALL)
_CODE = re.compile(r"```.*?```|~~~.*?~~~", re.DOTALL)
_EMPHASIS = re.compile(r"(\*\*|__|\*|_|==|~~)(\S(?:.*?\S)?)\1")
_DATAVIEW = re.compile(r"^\s*[\w-]+::.*$", re.MULTILINE)
# Inline fields within a sentence: [key:: value] is an annotation; (key:: value) reads as value.
_DATAVIEW_INLINE = re.compile(r"\[[\w -]+::[^\]]*\]|\([\w -]+::\s*([^)]*)\)")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([.,;:!?])")
_MARKUP = str.maketrans("", "", "*_=~")

QUESTIONS = {
    "decision": [
        "What did I decide, and why?",
        "Which decision did I make that day, and what was my reasoning?",
        "Walk me through a choice I made recently.",
    ],
    "insight": [
        "What insight stayed with me?",
        "What did I notice about myself that day?",
        "What is something I understood more clearly?",
    ],
    "learning": [
        "What did I learn?",
        "What lesson did I take from that day?",
        "What have I been learning lately?",
    ],
    "takeaway": [
        "What was my main takeaway?",
        "If I had to keep one thing from that day, what would it be?",
    ],
    "realization": [
        "What did I come to realize?",
        "What became clear to me?",
    ],
    "wonder": [
        "What question has been on my mind?",
        "What am I curious or unsure about?",
    ],
    "hindsight": [
        "Looking back, what do I see now that I did not see then?",
        "How do I see that period with some distance?",
    ],
    "gratitude": [
        "What was I grateful for?",
        "What made me thankful that day?",
    ],
    "reflection": [
        "How would I reflect on that day?",
        "What was on my mind when I looked back on that time?",
        "Share a reflection from my journal.",
    ],
}
_HEADER_KINDS = {
    "learnings": "learning",
    "takeaways": "takeaway",
    "insights": "insight",
    "lessons": "learning",
    "reflections": "reflection",
}
_PHRASE_KINDS = {
    "wonder": "wonder",
    "realiz": "realization",
    "realis": "realization",
    "looking back": "hindsight",
    "hindsight": "hindsight",
    "learned": "learning",
}


@dataclass
class Reflection:
    """One span of a note that reflects, and what kind of reflection it is."""

    text: str
    kind: str
    found_by: str


def plain_text(markdown: str) -> str:
    """Reduce Obsidian Markdown to clean prose: no tags, link brackets, comments or markup."""
    text = markdown
    # Each pass only where its marker occurs: most paragraphs are plain sentences.
    if "```" in text or "~~~" in text:
        text = _CODE.sub(" ", text)
    if "%%" in text or "<!--" in text:
        text = _COMMENTS.sub(" ", text)
    if "[[" in text:
        text = _WIKILINK.sub(
            lambda m: m.group(2) or m.group(1).rsplit("/", 1)[-1], _EMBED.sub(" ", text)
        )
    if "](" in text:
        text = _MD_LINK.sub(r"\1", text)
    if "{{" in text or "<%" in text:
        text = PLACEHOLDER.sub(" ", text)
    if "::" in text:
        text = _DATAVIEW.sub(" ", _DATAVIEW_INLINE.sub(lambda m: m.group(1) or " ", text))
    text = _BULLET.sub("", _CHECKBOX.sub("", text))
    if ">" in text:
        text = _QUOTE.sub("", text)
    if "#" in text:
        text = _without_tags(text)
    if any(mark in text for mark in "*_=~"):
        text = _EMPHASIS.sub(r"\2", text)
    text = " ".join(text.split())
    return _SPACE_BEFORE_PUNCT.sub(r"\1", text).strip()


def _without_tags(text: str) -> str:
    parts, end = [], 0
    for match in tag_matches(text):
        parts += [text[end : match.start()], " "]
        end = match.end()
    return "".join(parts) + text[end:]


def find_reflections(
    body: str, rules: Extraction, boilerplate: frozenset[str] = frozenset()
) -> list[Reflection]:
    """Reflection sections (by header) and paragraphs (by tag or phrase) of one note body."""
    if boilerplate:
        body = without_template_lines(body, boilerplate)
    headers = {h.lower() for h in rules.section_headers}
    tags = {t.lower() for t in rules.reflection_tags}
    phrases = [p.lower() for p in rules.phrase_patterns]
    found: list[Reflection] = []
    for heading, section in _sections(body):
        if heading and heading.lower() in headers:
            text = plain_text(section)
            if text:
                found.append(
                    Reflection(
                        text, _HEADER_KINDS.get(heading.lower(), "reflection"), f"header:{heading}"
                    )
                )
            continue
        for paragraph in re.split(r"\n\s*\n", section):
            reflection = _paragraph_reflection(paragraph, tags, phrases)
            if reflection:
                found.append(reflection)
    return found


def _paragraph_reflection(paragraph: str, tags: set[str], phrases: list[str]) -> Reflection | None:
    has_tag = "#" in paragraph
    if not has_tag:
        if _BULLET.match(paragraph):
            return None  # plain log lines, not reflections
        words = " ".join(paragraph.lower().translate(_MARKUP).split())
        if not any(p in words for p in phrases):
            return None
    text = plain_text(paragraph)
    if not text:
        return None
    para_tags = [t.lower() for t in inline_tags(paragraph)] if has_tag else []
    if matched := next((t for t in para_tags if t in tags), None):
        return Reflection(text, matched, f"tag:#{matched}")
    lowered = text.lower()
    if phrase := next((p for p in phrases if p in lowered), None):
        kind = next((k for key, k in _PHRASE_KINDS.items() if key in phrase), "reflection")
        return Reflection(text, kind, f"phrase:{phrase}")
    return None


def _sections(body: str) -> list[tuple[str | None, str]]:
    """Split a body at headers (not those inside code blocks): (heading or None, text under it)."""
    code = [m.span() for m in _CODE.finditer(body)] if "```" in body or "~~~" in body else []
    sections: list[tuple[str | None, str]] = []
    heading, start = None, 0
    for match in _HEADER.finditer(body):
        if any(a <= match.start() < b for a, b in code):
            continue
        sections.append((heading, body[start : match.start()]))
        text = match.group(1)
        heading, start = plain_text(text) if _HEADING_MARKUP.search(text) else text, match.end()
    sections.append((heading, body[start:]))
    return [(h, s) for h, s in sections if s.strip()]


def question_for(reflection: Reflection, note: Note) -> str:
    """A user turn that fits the reflection, varied deterministically by its text."""
    options = QUESTIONS.get(reflection.kind, QUESTIONS["reflection"])
    seed = int(hashlib.sha256(reflection.text.encode()).hexdigest(), 16)
    question = options[seed % len(options)]
    if note.date and seed % 3 == 0:
        return f"From my journal on {note.date}: {question[0].lower()}{question[1:]}"
    if not note.date and seed % 3 == 0:
        return f"About '{note.title}': {question[0].lower()}{question[1:]}"
    return question


def examples_from_note(
    note: Note, rules: Extraction, system_prompt: str, boilerplate: frozenset[str] = frozenset()
) -> list[dict[str, Any]]:
    """Chat-format examples for every reflection in one note, with template questions."""
    return [
        {
            "id": example_id(note.path, reflection.text),
            "messages": [
                {"role": "system", "content": system_prompt},
                {"role": "user", "content": question_for(reflection, note)},
                {"role": "assistant", "content": reflection.text},
            ],
            "source_file": note.path,
            "tags": note.tags,
            "date": note.date,
            "kind": reflection.kind,
            "found_by": reflection.found_by,
        }
        for reflection in find_reflections(note.body, rules, boilerplate)
    ]
