"""A note's own words as chat examples: passages grouped into answers, each with a question."""

import math
import re
from dataclasses import dataclass, field

from forge_pipeline.lib.core.chat import ChatExample
from forge_pipeline.lib.core.config import Extraction
from forge_pipeline.lib.core.example_id import example_id
from forge_pipeline.lib.dataset.kinds import infer_kind, question_for, topic_of
from forge_pipeline.lib.dataset.passages import (
    Passage,
    note_exclusion,
    note_passages,
    signals_of,
)
from forge_pipeline.lib.vault.note import Note
from forge_pipeline.lib.vault.templates import without_template_lines

# Answers are sized in words before any tokenizer is loaded; curation measures the real tokens.
# English runs ~1.3 tokens a word with SmolLM2's tokenizer: 1.4 keeps answers inside the limit.
TOKENS_PER_WORD = 1.4
TURN_OVERHEAD_TOKENS = 80  # the system prompt, the question and the chat template around them
_SENTENCE = re.compile(r"(?<=[.!?…])\s+")


@dataclass(frozen=True)
class Limits:
    """How long one answer may be, in tokens of the base model (curation.min/max_tokens)."""

    min_tokens: int = 12
    max_tokens: int = 384

    @property
    def max_words(self) -> int:
        return max(20, int((self.max_tokens - TURN_OVERHEAD_TOKENS) / TOKENS_PER_WORD))

    @property
    def min_words(self) -> int:
        return math.ceil(self.min_tokens / TOKENS_PER_WORD)


@dataclass
class Answer:
    """Adjacent taken passages of one section, joined into one assistant turn."""

    passages: list[Passage] = field(default_factory=list)
    text: str = ""

    @property
    def words(self) -> int:
        return len(self.text.split())


@dataclass
class Explained:
    """Every passage of one note, and the examples made of those taken."""

    excluded: str | None  # why the whole note gives nothing (private, imported, …), if so
    passages: list[Passage]
    examples: list[ChatExample]


def explain_note(
    note: Note,
    rules: Extraction,
    system_prompt: str,
    boilerplate: frozenset[str] = frozenset(),
    limits: Limits = Limits(),
) -> Explained:
    """Each passage of a note, taken (by which rule, into which example) or left (why)."""
    if excluded := note_exclusion(note, note.meta, rules):
        return Explained(excluded, [], [])
    body = without_template_lines(note.body, boilerplate) if boilerplate else note.body
    passages = note_passages(note, body, rules)
    answers = _answers(passages, limits)
    examples: list[ChatExample] = []
    taken: set[str] = set()
    generic = signals_of(rules).sections  # lower-cased once per run, not per note
    for answer in answers:
        if answer.words < limits.min_words:
            for passage in answer.passages:
                passage.left = f"too short ({answer.words} words < {limits.min_words})"
            continue
        examples.append(_example(note, answer, system_prompt, taken, generic))
    return Explained(None, passages, examples)


def examples_from_note(
    note: Note,
    rules: Extraction,
    system_prompt: str,
    boilerplate: frozenset[str] = frozenset(),
    limits: Limits = Limits(),
) -> list[ChatExample]:
    """Chat-format examples of the person's own words in one note."""
    return explain_note(note, rules, system_prompt, boilerplate, limits).examples


def _answers(passages: list[Passage], limits: Limits) -> list[Answer]:
    """Taken passages in runs of one section and question, each run cut to the word limit."""
    answers: list[Answer] = []
    current: Answer | None = None
    for passage in passages:
        if passage.rule is None:
            current = None  # a left block ends the run: what follows is another passage
            continue
        for piece in _pieces(passage.text, limits.max_words):
            joined = f"{current.text}{_joiner(current)}{piece}" if current else piece
            same = current and _same_run(current.passages[-1], passage)
            if current and same and len(joined.split()) <= limits.max_words:
                current.text = joined
                if current.passages[-1] is not passage:
                    current.passages.append(passage)
                continue
            current = Answer([passage], piece)
            answers.append(current)
    return answers


def _same_run(last: Passage, passage: Passage) -> bool:
    """One section, one question, one rule: two differently tagged thoughts stay two examples."""
    same_place = last.headings == passage.headings and last.question == passage.question
    return same_place and last.rule == passage.rule


def _joiner(answer: Answer) -> str:
    return "\n" if answer.passages[-1].outline else "\n\n"


def _pieces(text: str, max_words: int) -> list[str]:
    """The text, or for a passage over the limit, runs of whole sentences within it."""
    if len(text.split()) <= max_words:
        return [text]
    pieces, current = [], ""
    for sentence in _SENTENCE.split(text):
        candidate = f"{current} {sentence}".strip()
        if current and len(candidate.split()) > max_words:
            pieces.append(current)
            candidate = sentence
        current = candidate
    return [*pieces, current] if current else pieces


def _example(
    note: Note, answer: Answer, system_prompt: str, taken: set[str], generic: frozenset[str]
) -> ChatExample:
    first = answer.passages[0]
    signal = next((p.signal_tags[0] for p in answer.passages if p.signal_tags), None)
    kind = signal or infer_kind(answer.text, first.heading, note.tags, note.date is not None)
    if first.question and first.question not in taken:
        question = first.question
    else:
        topic = topic_of(first.heading, note.title, note.tags, generic)
        question = question_for(kind, topic, note.date, answer.text, taken)
    taken.add(question)
    ident = example_id(note.path, answer.text)
    for passage in answer.passages:
        passage.example = ident
    return {
        "id": ident,
        "messages": [
            {"role": "system", "content": system_prompt},
            {"role": "user", "content": question},
            {"role": "assistant", "content": answer.text},
        ],
        "source_file": note.path,
        "tags": note.tags,
        "date": note.date,
        "kind": kind,
        "found_by": first.rule or "prose",
    }
