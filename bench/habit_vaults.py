"""Vaults written the way people write: template prompts, journal sections, outliners, posts.

Each style also holds what is not the person's words (imported highlights, a web clipping) and
private notes, so a test or benchmark can check that none of it reaches the training set.
"""

import datetime as dt
import random
from dataclasses import dataclass, field
from pathlib import Path

STYLES = ("prompts", "sections", "outliner", "posts")
PEOPLE = ["Ines", "Tomas", "Grandpa Lev", "Noor", "Bea", "Kofi"]
PLACES = ["the allotment", "the office", "the pool", "my sister's flat", "the library", "the park"]
DAY = [
    "I woke up before the alarm and read for half an hour with the window open.",
    "Work was mostly meetings, and I only found an hour of real focus after four.",
    "I biked to {place} in the rain and arrived soaked but oddly cheerful.",
    "{p} called in the evening and we talked for longer than either of us planned.",
    "I cooked the lentil soup again and it was better than last week, more lemon.",
    "My knee hurt on the stairs, so I skipped the run and walked instead.",
    "I finally answered the email I had been avoiding for {n} days, and it took ten minutes.",
    "We spent the afternoon at {place}; I weeded while {p} fixed the fence.",
    "I felt scattered all morning and kept opening the same three tabs.",
    "The train was late by {n} minutes, so I wrote in this notebook on the platform.",
    "I said no to an extra project today and my stomach did not clench afterwards.",
    "I made a mess of the presentation slides and stayed late to redo them.",
    "Lunch outside with {p}; we argued happily about whether cities make people kind.",
    "I slept badly, and I noticed how short my temper was by midday.",
    "I tidied the desk, paid the bills and felt lighter than the chores deserve.",
    "I tried the new bakery near {place} and bought far too much bread.",
]
THOUGHT = [
    "I keep relearning that my mood follows my sleep more than my plans.",
    "I think I am happier when the day has one clear thing in it rather than ten.",
    "It struck me that I rarely ask for help until I am already tired.",
    "I want to remember how calm I felt once the decision was made.",
    "Maybe the discomfort of starting is the whole obstacle, not the work itself.",
    "I notice I am kinder to others than I am to myself when things slip.",
    "I would like to spend fewer evenings on my phone and more with my hands busy.",
    "I am learning to leave a task at a good stopping point instead of an exhausted one.",
    "Writing this down makes the day feel smaller and more manageable.",
    "I wonder whether I say yes so quickly because silence makes me nervous.",
]
PROMPTS = {
    "What went well today?": [
        "The walk with {p} after dinner; we did not look at our phones once.",
        "I kept my morning free of email and got the hard part of the report done.",
        "I asked for feedback early instead of polishing alone for a week.",
        "Cooking together, and the kitchen was clean before nine.",
    ],
    "What did I learn today?": [
        "That a short written plan stops me from drifting between tasks all day.",
        "I learned that {p} has been worried about money too, and that talking helped us both.",
        "Resting before I am exhausted makes the next morning much easier.",
        "The first draft does not have to be good, it has to exist.",
    ],
    "What am I grateful for?": [
        "My sister's voice message, the warm kitchen and a quiet hour to read.",
        "Good bread, a dry coat and {p} remembering my interview.",
        "That my knee feels better and I could walk to {place} without thinking about it.",
    ],
    "What would I do differently?": [
        "I would stop checking messages during lunch, it ruined the break.",
        "Start the hard conversation earlier instead of rehearsing it all afternoon.",
        "Go to bed when I first feel tired instead of scrolling for another hour.",
    ],
}
HIGHLIGHTS = [
    "The reader should never be asked to admire the writer's effort.",
    "A garden is a conversation between patience and weather.",
    "Most of what we call planning is really a way of postponing the first step.",
    "Cities are built twice: once in stone and once in habit.",
]
LINKS = ["[[Reading list]]", "[[Projects/Garden]]", "[[People/{p}]]", "[[Weekly review]]"]


@dataclass
class Written:
    """What a generated vault holds: its daily notes with the person's writing, and the rest."""

    root: Path
    daily_with_writing: list[str] = field(default_factory=list)  # paths, relative to root
    not_yours: list[str] = field(default_factory=list)  # imported highlights and clippings
    private: list[str] = field(default_factory=list)
    markers: list[str] = field(default_factory=list)  # phrases only those notes hold


def write_vault(root: Path, style: str, days: int = 150, seed: int = 3) -> Written:
    """A vault of one writing style with `days` daily notes, imports and private notes."""
    rng = random.Random(f"{style}:{seed}")
    written = Written(root)
    start = dt.date(2025, 3, 1)
    writer = WRITERS[style]
    if style == "prompts":
        _write(root / "Templates" / "Evening review.md", prompt_template())
    for index in range(days):
        day = start + dt.timedelta(days=index)
        rel, text = writer(rng, day)
        _write(root / rel, text)
        written.daily_with_writing.append(rel)
    write_not_yours(root, style, rng, written)
    return written


def _fill(rng: random.Random, text: str) -> str:
    return text.format(p=rng.choice(PEOPLE), place=rng.choice(PLACES), n=rng.randint(2, 40))


def _prose(rng: random.Random, pool: list[str], low: int, high: int) -> str:
    return " ".join(_fill(rng, s) for s in rng.sample(pool, rng.randint(low, high)))


def prompt_template() -> str:
    questions = "\n\n".join(f"##### [[{q}]]\n" for q in PROMPTS)
    return (
        "---\ndate: {{date}}\ntags: [daily]\n---\n"
        "[[{{yesterday}}|<< Yesterday]] | [[{{tomorrow}}|Tomorrow >>]]\n\n"
        "## Daily log\n- \n\n### [[Evening Review]]\n\n#### Prompts\n\n"
        f"{questions}\n#### [[Journal]]\n\n## Notes\n"
    )


def prompt_day(rng: random.Random, day: dt.date) -> tuple[str, str]:
    """An Obsidian daily note from an evening-review template: answered prompts and a journal."""
    answered = rng.sample(list(PROMPTS), rng.randint(1, 3))
    parts = [
        f"---\ndate: {day}\ntags: [daily]\n---",
        f"[[{day - dt.timedelta(days=1)}|<< Yesterday]] | [[{day + dt.timedelta(days=1)}"
        "|Tomorrow >>]]",
        "## Daily log",
        f"- 09:{rng.randint(10, 59)}-11:00 standup, then {_fill(rng, '[[People/{p}]]')}",
        "- [ ] send the invoice",
        "### [[Evening Review]]",
        "#### Prompts",
    ]
    for question in PROMPTS:
        parts.append(f"##### [[{question}]]")
        if question in answered:
            parts.append(_fill(rng, rng.choice(PROMPTS[question])))
    if rng.random() < 0.9:
        parts += ["#### [[Journal]]", _prose(rng, DAY, 2, 4), _prose(rng, THOUGHT, 1, 2)]
    parts += ["## Notes", "```dataview\nlist from #project\n```"]
    return f"Journal/{day:%Y}/{day}.md", "\n\n".join(parts) + "\n"


def section_day(rng: random.Random, day: dt.date) -> tuple[str, str]:
    """A daily note with a free-writing section under a heading, tasks and links around it."""
    heading = rng.choice(["## Journal", "## Diary", "### Today", "## Morning pages", "## Thoughts"])
    parts = [
        f"# {day:%A, %B} {day.day}",
        "## Tasks\n- [x] laundry\n- [ ] book the dentist\n- [ ] " + _fill(rng, "call {p}"),
        heading,
        _prose(rng, DAY, 1, 3),
        _prose(rng, THOUGHT, 1, 2),
    ]
    if rng.random() < 0.4:
        parts += ["**Gratitude**", _fill(rng, rng.choice(PROMPTS["What am I grateful for?"]))]
    parts += ["## Links", "- " + _fill(rng, rng.choice(LINKS)), "- https://example.org/article"]
    return f"Daily Notes/{day}.md", "\n\n".join(parts) + "\n"


def outline_day(rng: random.Random, day: dt.date) -> tuple[str, str]:
    """A Logseq journal page: every line a bullet, properties, tasks, refs and embeds."""
    thoughts = [_fill(rng, s) for s in rng.sample(DAY, 2)] + [rng.choice(THOUGHT)]
    lines = [
        "- mood:: " + rng.choice(["ok", "good", "low"]),
        "  collapsed:: true",
        f"- TODO {_fill(rng, 'Ask [[{p}]] about the weekend')}",
        "- DONE water the plants",
        f"- [[{day:%b} {_ordinal(day.day)}, {day.year}]] ((64a1f0c2-1b2c-4d5e-8f90-a1b2c3d4e5f6))",
        f"- {thoughts[0]}",
        f"\t- {thoughts[1]}",
        f"\t\t- {thoughts[2]}",
        "- {{embed [[Weekly review]]}}",
    ]
    if rng.random() < 0.5:  # pages written as words of the sentence
        person = rng.choice(PEOPLE).replace(" ", "_")
        lines += [f"- I had lunch with #{person} near the #Old_Market and we talked for an hour."]
    if rng.random() < 0.5:
        question = rng.choice(list(PROMPTS))
        lines += [f"- {question}", f"\t- {_fill(rng, rng.choice(PROMPTS[question]))}"]
    if rng.random() < 0.3:  # a Markdown heading between bullets, its bullets indented under it
        lines += ["## Thoughts", f"\t- {rng.choice(THOUGHT)}", "## Todos", "\t- TODO tidy the shed"]
    return f"journals/{day:%Y_%m_%d}.md", "\n".join(lines) + "\n"


def post(rng: random.Random, day: dt.date) -> tuple[str, str]:
    """A diary-like blog post: frontmatter with title, date, tags; a few sections."""
    title = rng.choice(["Weeknotes", "A slow Sunday", "On saying no", "Small repairs", "Rain"])
    slug = f"{day}-{title.lower().replace(' ', '-')}"
    # Hugo's `url:` is the post's own address, not a clipping's source.
    url = f"url: https://blog.example/posts/{slug}/\n" if rng.random() < 0.5 else ""
    body = [
        f'---\ntitle: "{title} {day.isoformat()}"\ndate: {day}\ntags: [diary, life]\n{url}---',
        _prose(rng, DAY, 2, 3),
        "## What I'm thinking about",
        _prose(rng, THOUGHT, 2, 3),
    ]
    if rng.random() < 0.3:
        body += ["![a photo of the allotment](/img/allotment.jpg)"]
    return f"content/posts/{slug}.md", "\n\n".join(body) + "\n"


def _ordinal(day: int) -> str:
    suffix = "th" if 11 <= day <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def write_not_yours(root: Path, style: str, rng: random.Random, written: Written) -> None:
    """Imported highlights, a clipping, a quote-only note, a draft and private notes."""
    for number, line in enumerate(HIGHLIGHTS):
        rel = f"Readwise/Books/Book {number}.md"
        _write(
            root / rel,
            f"# Book {number}\n\n## Metadata\n- Author: [[Someone Else]]\n"
            f"- Full Title: Book {number}\n- Category: #books\n\n## Highlights\n"
            f"- {line} I think this is true of my life too. ([Location {number * 40}]"
            "(https://readwise.io/to_kindle?asin=X))\n",
        )
        written.not_yours.append(rel)
        written.markers.append(line)
    clip = "Clippings/How to rest.md"
    clipped = "Rest is a skill that most of us were never taught and I intend to teach it."
    clip_text = f"---\nsource: https://example.org/rest\nauthor: A Writer\n---\n{clipped}\n"
    _write(root / clip, clip_text)
    written.not_yours.append(clip)
    written.markers.append(clipped)
    secret = "I have not told anyone yet that I am thinking of leaving my job in the spring."
    for rel, text in [
        ("Private/health.md", f"---\nprivate: true\n---\n## Journal\n{secret}\n"),
        ("Notes/letter.md", f"#private\n\n## Thoughts\nI keep writing this letter. {secret}\n"),
    ]:
        _write(root / rel, text)
        written.private.append(rel)
    written.markers.append(secret)
    if style == "posts":
        draft = "I am not sure I want to publish this one, it says too much about my father."
        rel = "content/posts/unfinished.md"
        _write(root / rel, f"---\ntitle: Unfinished\ndraft: true\n---\n{draft}\n")
        written.private.append(rel)
        written.markers.append(draft)


WRITERS = {"prompts": prompt_day, "sections": section_day, "outliner": outline_day, "posts": post}


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
