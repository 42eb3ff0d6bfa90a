"""A realistic vault of any size: every writing habit, imports, private notes, odd files."""

import datetime as dt
import random
from collections import Counter
from pathlib import Path

from bench.habit_vaults import HIGHLIGHTS, STYLES, WRITERS, prompt_template

TAGS = ["daily", "work", "family", "health", "running", "reading", "money", "travel", "cooking"]
NESTED = ["area/health", "area/work", "project/garden", "project/thesis", "people/lena"]
PEOPLE = ["Lena", "Marco", "Aunt Rosa", "Sam", "Priya", "Jonas"]
LOG = [
    "Easy {n} km along the river.",
    "Call with [[People/{p}|{p}]] about the move.",
    "Read {n} pages of [[Books/Deep Work#Rules|Deep Work]].",
    "Groceries, laundry, {n} emails.",
    "Fixed the leaking tap; took {n} minutes.",
    "Lunch with {p} at the place near the station.",
    "Planned the week: {n} things, three that matter.",
]
REFLECT = [
    "Looking back, the thing I dreaded took {n} minutes and I spent a week avoiding it.",
    "I realize I plan best on paper; the screen makes every task look equally urgent.",
    "I wonder whether I say yes to {p} because I want to or because I fear the silence.",
    "Small promises kept to myself matter more than the big plans I announce.",
    "When I sleep before eleven the whole next day is kinder, to me and to everyone else.",
    "I learned that asking early is cheaper than apologising late, even when it feels awkward.",
    "Rest is not a reward for finishing; it is part of how the work gets finished at all.",
]
FILLER = (
    "The morning was grey and quiet. Coffee, a slow start, then the usual list. "
    "Nothing remarkable happened, which is its own kind of good day. "
)
BROKEN_KINDS = ["latin1", "empty", "binary", "bad_frontmatter", "attachment", "oversized"]
# Of every ten notes: six logs with a tagged reflection or not, one in each habit of habit_vaults.
HABIT_OF_TEN = ["log"] * 6 + list(STYLES)
IMPORT_EVERY = 50  # one imported highlights note (Readwise) and one private note per 50 notes
PRIVATE_MARKER = "This stays between me and this page"


def note_text(rng: random.Random, day: dt.date, index: int) -> str:
    """One daily note: frontmatter, log bullets with links, filler and reflections."""
    tags = rng.sample(TAGS, rng.randint(1, 3))
    fill = {"n": rng.randint(2, 90), "p": rng.choice(PEOPLE)}
    mood = rng.choice(["calm", "tired", "glad"])
    parts = [
        f"---\ndate: {day.isoformat()}\ntags: [{', '.join(tags)}]\nmood: {mood}\n---\n",
        f"# {day:%A %d %B %Y} ({index})\n",
        "## Log",
        *(f"- {rng.choice(LOG).format(**fill)}" for _ in range(rng.randint(2, 6))),
        "",
        FILLER * rng.randint(1, 6),
        "",
    ]
    if rng.random() < 0.6:
        parts.append(f"{rng.choice(REFLECT).format(**fill)} #{rng.choice(NESTED)}\n")
    if rng.random() < 0.3:
        parts.append("## Reflections\n" + rng.choice(REFLECT).format(**fill) + " #reflection\n")
    if rng.random() < 0.2:
        parts.append("%% private: skip %%\n- [ ] water the plants\n- [x] pay rent\nenergy:: 3\n")
    return "\n".join(parts)


def habit_note(rng: random.Random, habit: str, day: dt.date, index: int) -> tuple[Path, str]:
    """Where one daily note of a habit goes (unique per index) and its text."""
    if habit == "log":
        folder = Path("Daily") / str(day.year) / f"{day.month:02d}"
        return folder / f"{day}-{index}.md", note_text(rng, day, index)
    rel, text = WRITERS[habit](rng, day)
    rel = Path(rel)
    unique = f"{rel.stem}-{index}"
    # A post's own address names its file: it follows the rename (else it reads as a clipping).
    return rel.with_name(unique + rel.suffix), text.replace(f"/{rel.stem}/", f"/{unique}/")


def not_yours_notes(root: Path, rng: random.Random, index: int) -> None:
    """An imported highlights note and a private note: neither may reach the training set."""
    folder, private = root / "Readwise" / "Books", root / "Private"
    folder.mkdir(parents=True, exist_ok=True)
    private.mkdir(exist_ok=True)
    quote = rng.choice(HIGHLIGHTS)
    (folder / f"Book {index}.md").write_text(
        f"# Book {index}\n## Metadata\n- Full Title: Book {index}\n## Highlights\n- {quote}\n"
    )
    (private / f"private-{index}.md").write_text(
        f"---\nprivate: true\n---\n## Journal\n{PRIVATE_MARKER}: I am afraid of the move.\n"
    )


def broken_file(root: Path, kind: str, index: int) -> None:
    """One file of a kind Forge must skip or flag."""
    folder = root / "Inbox"
    if kind == "latin1":
        (folder / f"latin1-{index}.md").write_bytes(
            "Caf\xe9 au lait, d\xe9j\xe0 vu.\n".encode("latin-1")
        )
    elif kind == "empty":
        (folder / f"empty-{index}.md").write_text("\n")
    elif kind == "binary":
        (folder / f"binary-{index}.md").write_bytes(b"\x89PNG\r\n\x00\x00" * 16)
    elif kind == "bad_frontmatter":
        (folder / f"bad-{index}.md").write_text(
            "---\ntags: [unclosed\ndate: 2026-02-30\n---\nI realize the body still counts.\n"
        )
    elif kind == "attachment":
        (root / "attachments" / f"photo-{index}.png").write_bytes(b"\x89PNG\r\n" + bytes(256))
    else:
        (folder / f"huge-{index}.md").write_text("x" * ((2 << 20) + 1))


def generate(root: Path, notes: int, seed: int = 7, broken_share: float = 0.005) -> Counter:
    """Write `notes` daily notes in every habit, imports, private and broken files; count them."""
    rng = random.Random(seed)
    for folder in ("Inbox", "attachments", ".obsidian", "Templates"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    (root / ".obsidian" / "app.json").write_text("{}")
    (root / "Templates" / "Daily.md").write_text("---\ndate: {{date}}\n---\n## Log\n")
    (root / "Templates" / "Evening review.md").write_text(prompt_template())
    counts: Counter = Counter()
    start = dt.date(2000, 1, 1)
    for index in range(notes):
        day = start + dt.timedelta(days=index % 9000)
        habit = HABIT_OF_TEN[index % len(HABIT_OF_TEN)]
        rel, text = habit_note(rng, habit, day, index)
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        counts[habit] += 1
        if index % IMPORT_EVERY == IMPORT_EVERY - 1:
            not_yours_notes(root, rng, index)
            counts["imported"] += 1
            counts["private"] += 1
    for index in range(max(len(BROKEN_KINDS), int(notes * broken_share))):
        kind = BROKEN_KINDS[index % len(BROKEN_KINDS)]
        if kind == "oversized" and counts[kind] >= 2:
            continue  # two 2 MB files make the point without filling the disk
        broken_file(root, kind, index)
        counts[kind] += 1
    return counts
