"""What kind of passage a reflection is, and a template question that fits its kind and topic."""

import datetime as dt
import functools
import hashlib
import itertools
import re

# Words in a heading, tag or the text that name a kind, checked in this order.
KIND_WORDS: dict[str, list[str]] = {
    "gratitude": ["grateful", "gratitude", "thankful", "thank you", "appreciate"],
    "decision": ["decided", "decision", "i chose", "i'm going to", "decide"],
    "learning": ["learned", "learnt", "lesson", "learning", "til"],
    "realization": ["realize", "realise", "realized", "realised", "realization"],
    "insight": ["insight", "noticed", "i notice", "understood"],
    "takeaway": ["takeaway"],
    "wonder": ["i wonder", "wondering", "curious"],
    "hindsight": ["looking back", "in hindsight", "hindsight"],
    "win": ["wins", "win", "proud", "went well", "worked well"],
    "worry": ["worried", "anxious", "afraid", "stress", "nervous"],
    "plan": ["tomorrow", "plan", "next week", "intention", "goals"],
}
# Kinds named by one word are found by word lookup (one cheap pass over the text's words); those
# named by a phrase ("looking back", "i'm going to") by a substring check, confirmed at word bounds.
_KIND_OF_WORD = {w: kind for kind, words in KIND_WORDS.items() for w in words if w.isalnum()}
_KIND_WORD_SET = frozenset(_KIND_OF_WORD)
_KIND_PHRASES = [
    (w, re.compile(rf"\b{re.escape(w)}\b"), kind)
    for kind, words in KIND_WORDS.items()
    for w in words
    if not w.isalnum()
]
_WORD = re.compile(r"\w+")

# {topic}: a subject of the passage (a heading, the note's title, a tag); {when}: its date.
# Every kind has questions without {topic}, for passages that have none.
QUESTIONS: dict[str, list[str]] = {
    "journal": [
        "How was my day {when}?",
        "What happened {when}?",
        "What did I write in my journal {when}?",
        "What was on my mind about {topic}?",
        "Tell me about {topic}.",
    ],
    "reflection": [
        "Share a reflection from my journal.",
        "What was on my mind {when}?",
        "How would I reflect on {topic}?",
        "What was on my mind about {topic}?",
    ],
    "gratitude": [
        "What was I grateful for {when}?",
        "What made me thankful {when}?",
        "What am I grateful for when I think about {topic}?",
    ],
    "decision": [
        "Which decision did I make {when}, and what was my reasoning?",
        "Walk me through a choice I made {when}.",
        "What did I decide about {topic}, and why?",
    ],
    "learning": [
        "What did I learn {when}?",
        "What lesson did I take from that day?",
        "What did I learn about {topic}?",
    ],
    "realization": [
        "What became clear to me {when}?",
        "What did I come to realize?",
        "What did I come to realize about {topic}?",
    ],
    "insight": [
        "What did I notice about myself {when}?",
        "What insight stayed with me?",
        "What insight about {topic} stayed with me?",
    ],
    "takeaway": ["What was my main takeaway {when}?", "What was my takeaway from {topic}?"],
    "wonder": [
        "What was I curious or unsure about {when}?",
        "What question has been on my mind?",
        "What question about {topic} has been on my mind?",
    ],
    "hindsight": [
        "Looking back, what do I see now that I did not see then?",
        "Looking back on {topic}, what do I see now?",
    ],
    "win": ["What went well {when}?", "What am I proud of about {topic}?"],
    "worry": ["What weighed on me {when}?", "What was worrying me about {topic}?"],
    "plan": ["What did I intend to do next {when}?", "What did I plan for {topic}?"],
}
# Headings and tags too general to be a topic ("What was on my mind about daily?").
GENERIC = {
    "journal",
    "diary",
    "today",
    "notes",
    "thoughts",
    "log",
    "daily log",
    "daily",
    "life",
    "personal",
    "journaling",
    "dailies",
    "evening review",
    "morning pages",
    "prompts",
}
# Named here, not by strftime's %B: the questions are English whatever the locale (and ~10x faster).
MONTH_NAMES = (
    "January February March April May June July August September October November December"
).split()
_ASKING = re.compile(r"^(?:what|how|why|when|where|who|which|did|do|am|is|are)\b|\bI\b", re.I)
_ISO_DAY = re.compile(r"\d{4}[-_.]\d\d[-_.]\d\d")
_MONTH_DAY = re.compile(
    r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.? \d{1,2}(?:st|nd|rd|th)?\b|"
    r"\b\d{1,2}(?:st|nd|rd|th)? (?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)",
    re.IGNORECASE,
)


def infer_kind(text: str, heading: str | None, tags: list[str], dated: bool) -> str:
    """The kind named by the heading, else a tag, else the words of the text; else journal."""
    for source in (heading or "", " ".join(tags), text):
        if source and (named := _kinds_named(source.lower())):
            return next(k for k in KIND_WORDS if k in named)
    return "journal" if dated else "reflection"


def _kinds_named(lowered: str) -> set[str]:
    """Every kind whose words occur in the (lower-cased) text as whole words."""
    named = {_KIND_OF_WORD[word] for word in _KIND_WORD_SET.intersection(_WORD.findall(lowered))}
    for phrase, pattern, kind in _KIND_PHRASES:
        if kind not in named and phrase in lowered and pattern.search(lowered):
            named.add(kind)
    return named


def topic_of(
    heading: str | None, title: str, tags: list[str], generic: frozenset[str]
) -> str | None:
    """What the passage is about, in words: a specific heading, a title or a tag; else None."""
    generic = _with_generic(generic)
    if heading and heading.lower() not in generic and _is_subject(heading):
        return heading if heading[1:2].isupper() else heading[0].lower() + heading[1:]
    if title and title.lower() not in generic and _is_subject(title):
        return f"'{title}'"
    topical = [t for t in tags if t.split("/")[-1] not in generic]
    return topical[0].split("/")[-1].replace("-", " ") if topical else None


@functools.cache
def _with_generic(sections: frozenset[str]) -> frozenset[str]:
    """The configured section names and GENERIC: one set per run (a frozenset hashes once)."""
    return sections | GENERIC


def _is_subject(text: str) -> bool:
    """A heading or title that names a subject: not a date, not a question or a sentence."""
    return not (_is_date(text) or _ASKING.search(text) or len(text.split()) > 8)


def question_for(
    kind: str, topic: str | None, date: str | None, seed_text: str, taken: set[str]
) -> str:
    """A template question for the kind, varied by the text and not already used in the note.

    A passage with a subject is asked about it first ("What was on my mind about the move?"),
    then about its day: a post's date is in its name, yet it is seldom about that day.
    """
    asked = QUESTIONS.get(kind, QUESTIONS["journal"])
    when = f"on {spoken_date(date)}" if date else "then"
    start = int.from_bytes(hashlib.sha256(seed_text.encode()).digest(), "big")
    groups = (
        [q for q in asked if "{topic}" in q] if topic else [],
        [q for q in asked if "{topic}" not in q],
    )
    candidates = [
        group[(start + i) % len(group)].format(topic=topic, when=when)
        for group in groups
        for i in range(len(group))
    ]
    if fresh := next((q for q in candidates if q not in taken), None):
        return fresh
    numbered = (f"{c} (part {n})" for n in itertools.count(2) for c in candidates)
    return next(q for q in numbered if q not in taken)


def spoken_date(date: str) -> str:
    """2026-01-05 as 'January 5, 2026'."""
    try:
        day = dt.date.fromisoformat(date)
    except ValueError:
        return date
    return f"{MONTH_NAMES[day.month - 1]} {day.day}, {day.year}"


def _is_date(text: str) -> bool:
    return bool(_ISO_DAY.search(text) or _MONTH_DAY.search(text))
