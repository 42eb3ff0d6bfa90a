"""A note body as blocks under their headings, from Markdown or from an outliner's bullets."""

import re
from dataclasses import dataclass

from forge_pipeline.lib.dataset.clean import BULLET_MARKS

_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t]*#*[ \t]*$")
_BOLD_LINE = re.compile(r"^\s*(?:\*\*|__)([^*_\n]+?)(?:\*\*|__)\s*:?\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
# `What did I learn?:: The answer`, `Today I am thankful for :: …`: a Dataview field whose key
# is the person's prompt (it asks, or it is a phrase of three words or more).
_QUESTION_FIELD = re.compile(
    r"^\s*(?:[-*+]\s+)?([^:\n]{3,200}\?|[^:\n\[\]]{0,100}\w \w+ \w[^:\n\[\]]{0,100}?)"
    r"\s*::[ \t]*(\S.*)$"
)
_BULLET_LINE = re.compile(r"^([ \t]*)[-*+][ \t]+(.*)$")
_LOGBOOK = re.compile(r"^\s*:LOGBOOK:\s*$.*?^\s*:END:\s*$", re.MULTILINE | re.DOTALL)
_WIKILINK_TEXT = re.compile(r"\[\[(?:[^\]|\n]{0,300}\|)?([^\]\n]{0,300})\]\]")
_HEADING_NOISE = re.compile(r"[*_=~`]|^#+\s*")
# An outline line that only names a part of the page ("- [[Journal]]", "- ## Evening review").
_SHORT_LABEL = re.compile(r"^[^.!?;]{1,48}$")
LABEL_WORDS = 6  # a bullet this short, with no sentence in it, over nested ones names a part
OUTLINE_SHARE = 0.7  # a body whose lines are mostly bullets is an outline (Logseq, Roam, Foam)


@dataclass
class Block:
    """One paragraph, list or outline block, the headings above it, and a question it answers."""

    raw: str  # as written, less the markers of outline nesting
    headings: tuple[str, ...]  # outermost first, cleaned of link brackets and emphasis
    line: int  # 1-based line in the body where it starts
    question: str | None = None  # the person's own question that this block answers
    outline: bool = False  # lines are separate thoughts (join with newlines, not spaces)

    @property
    def heading(self) -> str | None:
        return self.headings[-1] if self.headings else None


def heading_text(text: str) -> str:
    """A heading as words: no `[[`, `]]`, link targets, emphasis or leading hashes."""
    text = _WIKILINK_TEXT.sub(lambda m: m.group(1), text)
    return " ".join(_HEADING_NOISE.sub("", text).split()).rstrip(":").strip()


def is_question(text: str) -> bool:
    """A line that asks: ends with a question mark and is not a whole paragraph."""
    return text.rstrip().endswith("?") and len(text.split()) <= 30


def is_outline(body: str) -> bool:
    """Most lines are bullets, as every line of a Logseq or Roam page is."""
    lines = [line for line in body.split("\n") if line.strip()]
    if not lines or not _BULLET_LINE.match(lines[0]):
        return False
    bullets = sum(1 for line in lines if _BULLET_LINE.match(line))
    return bullets >= OUTLINE_SHARE * len(lines)


def note_blocks(body: str) -> list[Block]:
    """Every block of a note body, read as an outline or as Markdown, whichever it is."""
    body = _LOGBOOK.sub("", body) if ":LOGBOOK:" in body else body
    return outline_blocks(body) if is_outline(body) else markdown_blocks(body)


def markdown_blocks(body: str) -> list[Block]:
    """Paragraphs, lists and code of Markdown, each under the headings (or bold lines) above it."""
    blocks: list[Block] = []
    stack: list[tuple[int, str]] = []
    headings: tuple[str, ...] = ()  # the titles of stack, rebuilt only when it changes
    para: list[str] = []
    start = 0
    fence: str | None = None
    in_list = False

    def flush() -> None:
        if para:  # never only blank lines: blank lines end a paragraph, and a fence opens it
            blocks.append(Block("\n".join(para).strip("\n"), headings, start))
            para.clear()

    for number, line in enumerate(body.split("\n"), 1):
        if fence:
            para.append(line)
            if line.strip().startswith(fence):
                fence = None
                flush()
            continue
        if ("```" in line or "~~~" in line) and (match := _FENCE.match(line)):
            flush()
            fence, start = match.group(1), number
            para.append(line)
            continue
        if line[:1] == "#" or "**" in line or "__" in line:  # the only lines _heading can take
            level, title = _heading(line)
            if title is not None:
                flush()
                while stack and stack[-1][0] >= level:
                    stack.pop()
                stack.append((level, title))
                headings = tuple(h for _, h in stack)
                continue
        if "::" in line and (match := _QUESTION_FIELD.match(line)):
            flush()
            blocks.append(Block(match.group(2), headings, number, heading_text(match.group(1))))
            continue
        if not line or line.isspace():
            flush()
            continue
        marker = line.lstrip(" \t")[:1]
        bullet = marker in BULLET_MARKS and bool(_BULLET_LINE.match(line))
        listed = bullet or (in_list and line[:1] in " \t")
        if para and listed != in_list:
            flush()  # a list and the prose right after it are two passages, not one
        if not para:
            start = number
        in_list = listed
        para.append(line)
    flush()
    return blocks


def _heading(line: str) -> tuple[int, str | None]:
    """A Markdown heading's level and text; a bold line of its own is a heading below all six."""
    if line.startswith("#") and (match := _HEADING.match(line)):
        return len(match.group(1)), heading_text(match.group(2))
    if ("**" in line or "__" in line) and (match := _BOLD_LINE.match(line)):
        return 7, heading_text(match.group(1))
    return 0, None


@dataclass
class _Node:
    text: str
    line: int
    depth: int
    children: list["_Node"]


def outline_blocks(body: str) -> list[Block]:
    """Outline pages: a labelled bullet is a heading, a bullet that asks has its answer below it."""
    blocks: list[Block] = []
    for node in _outline_tree(body):
        _visit(node, (), blocks)
    return blocks


def _outline_tree(body: str) -> list[_Node]:
    roots: list[_Node] = []
    stack: list[_Node] = []
    for number, line in enumerate(body.split("\n"), 1):
        if not line.strip():
            continue
        match = _BULLET_LINE.match(line)
        if not match and _HEADING.match(line):  # a Markdown heading starts a part of the page
            node = _Node(line.strip(), number, -1, [])
            roots.append(node)
            stack[:] = [node]
            continue
        if not match:
            if stack:  # a bullet's continuation line (or its `key:: value` properties)
                stack[-1].text += "\n" + line.strip()
            else:
                roots.append(_Node(line.strip(), number, 0, []))
            continue
        depth = len(match.group(1).expandtabs(4))
        node = _Node(match.group(2).strip(), number, depth, [])
        while stack and stack[-1].depth >= depth:
            stack.pop()
        (stack[-1].children if stack else roots).append(node)
        stack.append(node)
    return roots


def _visit(node: _Node, headings: tuple[str, ...], blocks: list[Block]) -> None:
    first = node.text.split("\n", 1)[0]
    label = heading_text(first)
    heading = bool(_HEADING.match(first))  # "- ## Evening review"; "- #tag words" is no heading
    if node.children and (heading or _is_label(first)):
        for child in node.children:
            _visit(child, (*headings, label), blocks)
        return
    if heading and "\n" not in node.text:
        return  # a heading with nothing under it
    if node.children and is_question(label):
        text = "\n".join(_subtree_lines(node.children))
        blocks.append(Block(text, headings, node.line, label, outline=True))
        return
    blocks.append(Block("\n".join(_subtree_lines([node])), headings, node.line, outline=True))


def _is_label(text: str) -> bool:
    """A short bullet that names a part of the page ("[[Journal]]", "Gratitude"), not a thought."""
    return bool(_SHORT_LABEL.match(text)) and (
        text.startswith("[[") or text.endswith(":") or len(text.split()) <= LABEL_WORDS
    )


def _subtree_lines(nodes: list[_Node]) -> list[str]:
    lines: list[str] = []
    for node in nodes:
        lines.append(node.text)
        lines.extend(_subtree_lines(node.children))
    return lines
