"""Obsidian and outliner Markdown reduced to the words a person wrote."""

import re

from forge_pipeline.lib.vault.parse import tag_matches
from forge_pipeline.lib.vault.templates import PLACEHOLDER

# Every span is bounded ({0,300}): unbounded ones made a long line of unclosed marks quadratic.
_EMBED = re.compile(r"!\[\[[^\]\n]{0,300}\]\]")
_WIKILINK = re.compile(r"\[\[([^\]|#\n]{0,300})(?:#[^\]|\n]{0,300})?(?:\|([^\]\n]{0,300}))?\]\]")
_MD_LINK = re.compile(r"!?\[([^\]\n]{0,300})\]\([^)\n]{0,2000}\)")
_CHECKBOX = re.compile(r"^\s*[-*+]\s+\[.\]\s*", re.MULTILINE)
_BULLET = re.compile(r"^\s*(?:[-*+]|\d+\.)\s+", re.MULTILINE)
_QUOTE = re.compile(r"^\s*>\s?(?:\[![^\]]*\][+-]?\s*)?", re.MULTILINE)
_COMMENTS = re.compile(r"%%.*?%%|<!--.*?-->", re.DOTALL)
_CODE = re.compile(r"```.*?```|~~~.*?~~~", re.DOTALL)
_EMPHASIS = re.compile(r"(\*\*|__|\*|_|==|~~)(\S(?:.{0,300}?\S)?)\1")
_DATAVIEW = re.compile(r"^\s*[\w-]{1,60}::.*$", re.MULTILINE)
# Inline fields within a sentence: [key:: value] is an annotation; (key:: value) reads as value.
_DATAVIEW_INLINE = re.compile(
    r"\[[\w -]{1,60}::[^\]\n]{0,300}\]|\([\w -]{1,60}::[ \t]*([^)\n]{0,300})\)"
)
_BLOCK_REF = re.compile(r"\(\([\w-]{6,}\)\)")  # Logseq / Roam ((block refs))
_BLOCK_ID = re.compile(r"\s\^[\w-]+\s*$", re.MULTILINE)  # Obsidian ^block-ids
_URL = re.compile(r"https?://\S+")  # led by a letter, not \b: the engine skips ahead to it
_PUNCT = ".,;:!?"


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
    if "((" in text:
        text = _BLOCK_REF.sub(" ", text)
    if "{{" in text or "<%" in text:
        text = PLACEHOLDER.sub(" ", text)
    if "::" in text:
        text = _DATAVIEW.sub(" ", _DATAVIEW_INLINE.sub(lambda m: m.group(1) or " ", text))
    if "^" in text:
        text = _BLOCK_ID.sub("", text)
    if "://" in text:
        text = _URL.sub(" ", text)
    if "[" in text:
        text = _CHECKBOX.sub("", text)
    text = _BULLET.sub("", text)
    if ">" in text:
        text = _QUOTE.sub("", text)
    if "#" in text:
        text = _without_tags(text)
    if any(mark in text for mark in "*_=~"):
        text = _EMPHASIS.sub(r"\2", text)
    text = " ".join(text.split())
    for mark in _PUNCT:  # words are one space apart now: " ," is the only space before a mark
        text = text.replace(f" {mark}", mark)
    return text


def _without_tags(text: str) -> str:
    parts, end = [], 0
    for match in tag_matches(text):
        parts += [text[end : match.start()], " "]
        end = match.end()
    return "".join(parts) + text[end:]


def join_lines(lines: list[str], separate: bool) -> str:
    """Lines of one passage: separate thoughts (outline bullets) on their own lines, else prose."""
    lines = [line for line in lines if line]
    return "\n".join(lines) if separate else " ".join(lines)
