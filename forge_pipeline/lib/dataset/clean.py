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
_SPACED_PUNCT = [(f" {mark}", mark) for mark in ".,;:!?"]
BULLET_MARKS = ("-", "*", "+")  # what opens a bullet line
_EMPHASIS_MARK = re.compile(r"[*_=~]")
_TAG = re.compile(r"#[\w/-]+")
_LETTER = re.compile(r"[^\W\d_]")
# A tag at the end of a sentence is a word of it after these ("from #Starbucks"), else a label.
_LEADS_TO_A_NAME = frozenset(
    "a an the to from with at in on of for by about into my our his her their your".split()
)


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
    first = text.lstrip()[:1]
    if "\n" in text or first in BULLET_MARKS or first.isdigit():
        text = _BULLET.sub("", text)
    if ">" in text:
        text = _QUOTE.sub("", text)
    if "#" in text:
        text = _without_tags(text)
    if _EMPHASIS_MARK.search(text):
        text = _EMPHASIS.sub(r"\2", text)
    text = " ".join(text.split())
    for spaced, mark in _SPACED_PUNCT:  # words are one space apart: " ," is the only space left
        if spaced in text:
            text = text.replace(spaced, mark)
    return text


def _without_tags(text: str) -> str:
    """Tags as labels go; a tag used as a word of its sentence ("coffee with #Reagan") stays."""
    parts, end = [], 0
    for match in tag_matches(text):
        line_start = text.rfind("\n", 0, match.start()) + 1
        line_end = text.find("\n", match.end())
        before = text[line_start : match.start()]
        after = text[match.end() : line_end if line_end >= 0 else len(text)]
        parts += [text[end : match.start()], _tag_word(match.group(1), before, after)]
        end = match.end()
    return "".join(parts) + text[end:]


def _tag_word(name: str, before: str, after: str) -> str:
    """The tag's name as a word when the sentence runs through it (Logseq writes pages so)."""
    previous = before.rstrip().rsplit(None, 1)[-1] if before.strip() else ""
    inside = bool(previous) and previous[-1].isalnum() and not previous.startswith("#")
    continues = bool(_LETTER.search(_TAG.sub("", after)))
    if inside and (continues or previous.lower() in _LEADS_TO_A_NAME):
        return name.rsplit("/", 1)[-1].replace("_", " ")
    return " "


def join_lines(lines: list[str], separate: bool) -> str:
    """Lines of one passage: separate thoughts (outline bullets) on their own lines, else prose."""
    lines = [line for line in lines if line]
    return "\n".join(lines) if separate else " ".join(lines)
