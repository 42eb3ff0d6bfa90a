"""Finding the person's own words in a note, habit by habit, and turning them into examples.

Does not touch: Dagster, models, files other than the sample vault and temporary vaults.
"""

from pathlib import Path

import pytest

from bench.habit_vaults import STYLES, write_vault
from forge_pipeline.lib.core.config import Extraction
from forge_pipeline.lib.dataset.clean import plain_text
from forge_pipeline.lib.dataset.reflections import Limits, examples_from_note, explain_note
from forge_pipeline.lib.vault.parse import parse_note
from forge_pipeline.lib.vault.scan import scan_vault
from forge_pipeline.lib.vault.templates import template_lines
from forge_pipeline_tests.helpers import SAMPLE_VAULT

RULES = Extraction()
DAY = "I walked to the market early and bought far too many tomatoes for one person."
MORE = "Later I cooked them slowly with garlic and felt proud of my small kitchen."


def pairs(text: str, path: str = "Daily/2026-03-04.md", rules: Extraction = RULES, **limits):
    """(question, answer, rule) of every example of one note."""
    note = parse_note(text, path)
    return [
        (e["messages"][1]["content"], e["messages"][2]["content"], e["found_by"])
        for e in examples_from_note(note, rules, "sys", limits=Limits(**limits))
    ]


def answers(text: str, path: str = "Daily/2026-03-04.md", rules: Extraction = RULES):
    return [answer for _, answer, _ in pairs(text, path, rules)]


def left(text: str, path: str = "Daily/2026-03-04.md", rules: Extraction = RULES):
    """Why each passage of a note was left out (or why the whole note was)."""
    found = explain_note(parse_note(text, path), rules, "sys")
    return [found.excluded] if found.excluded else [p.left for p in found.passages if p.left]


@pytest.mark.parametrize(
    ("markdown", "plain"),
    [
        ("See [[People/Maya|Maya]] and [[Project Atlas#Goals]].", "See Maya and Project Atlas."),
        ("Embed ![[photo.png]] gone. %% secret %% <!-- hidden -->ok", "Embed gone. ok"),
        ("- [x] done task #todo", "done task"),
        ("> [!note] A callout\n> second line", "A callout second line"),
        ("**bold** and _it_ [link](http://x)", "bold and it link"),
        ("mood:: calm\nText", "Text"),
        ("I felt fine [mood:: good] today.", "I felt fine today."),
        ("I slept (hours:: 7) hours.", "I slept 7 hours."),
        ("Unfilled {{date}} and <% tp.file.title %> gone.", "Unfilled and gone."),
        ("As I said ((64a1f0c2-1b2c-4d5e)) before ^block-1", "As I said before"),
        ("Read https://example.org/x today.", "Read today."),
        # Outliners write pages as words of the sentence; a tag at the end is a label.
        (
            "Had tea with #Noor, then walked to the #Old_Harbour and back.",
            "Had tea with Noor, then walked to the Old Harbour and back.",
        ),
        ("Bought bread from #Bakery", "Bought bread from Bakery"),
        ("I finally said no to the extra project. #win", "I finally said no to the extra project."),
        ("Went for a long run #health", "Went for a long run"),
        ("#reflection I think the move was right.", "I think the move was right."),
    ],
)
def test_plain_text(markdown, plain):
    assert plain_text(markdown) == plain


@pytest.mark.parametrize(
    "heading",
    [
        "## What did I learn today?",
        "##### [[What did I learn today?]]",
        "# What did I learn today?",
        "**What did I learn today?**",
    ],
)
def test_a_question_heading_is_the_user_turn_and_the_text_under_it_the_answer(heading):
    found = pairs(f"{heading}\n\n{DAY}\n\n{MORE}\n\n## Log\n- groceries\n")
    assert found == [("What did I learn today?", f"{DAY}\n\n{MORE}", "question")]


def test_question_fields_prompt_lines_and_unanswered_prompts():
    text = (
        f"What made me smile?:: {DAY}\n\n"
        f"- Today I am thankful for   :: {MORE}\n\n"
        "## Evening\nWhat would I change?\n"
        "Nothing much, I would only go to bed a little earlier.\n\n"
        "## Later\nWhat am I afraid of?\n\n"
        "### Empty\n##### [[What went well today?]]\n"
    )
    assert pairs(text) == [
        ("What made me smile?", DAY, "question"),
        ("Today I am thankful for", MORE, "question"),
        (
            "What would I change?",
            "Nothing much, I would only go to bed a little earlier.",
            "question",
        ),
    ]
    assert "unanswered prompt" in left(text)  # a prompt alone is never an answer


@pytest.mark.parametrize(
    "heading", ["## Journal", "#### [[Journal]]", "### diary", "## Evening review", "**Today**"]
)
def test_free_writing_sections_are_taken_whatever_their_score(heading):
    short = "Tired. Rain all day, stayed in and read the whole afternoon."  # no first person
    [(_, answer, rule)] = pairs(f"{heading}\n{short}\n")
    assert (answer, rule) == (short, f"section:{heading.strip('#*[] ')}")
    assert answers(f"## Errands\n{short}\n") == []


def test_free_writing_sections_are_configurable():
    text = f"## Scratchpad\n{DAY}\n\n## Journal\n{MORE}\n"
    custom = Extraction(sections=["scratchpad"], prose_min_score=99)
    assert answers(text, rules=custom) == [DAY]


def test_outliner_journal_page():
    page = (
        "- mood:: tired\n  collapsed:: true\n"
        "- TODO call [[Noor]] about the weekend\n"
        "- DONE water the plants\n"
        "- [[Jan 31st, 2024]] ((64a1f0c2-1b2c-4d5e-8f90-a1b2c3d4e5f6))\n"
        "- {{embed [[Weekly review]]}}\n"
        f"- {DAY}\n\t- {MORE}\n\t\t- TODO buy jars\n"
        "- What did I learn?\n\t- That a short plan stops me drifting between tasks all day.\n"
        "- [[Journal]]\n\t- Slow morning, long walk, I am finally sleeping better.\n"
    )
    found = pairs(page, path="journals/2024_01_31.md")
    assert found == [
        (found[0][0], f"{DAY}\n{MORE}", "prose"),
        (
            "What did I learn?",
            "That a short plan stops me drifting between tasks all day.",
            "question",
        ),
        (found[2][0], "Slow morning, long walk, I am finally sleeping better.", "section:Journal"),
    ]
    reasons = left(page, path="journals/2024_01_31.md")
    assert {"properties", "task list", "link list"} <= set(reasons)
    meeting = "- Planning #meeting\n\t- Attendees:\n\t\t- [[Noor]]\n\t- We own none of it.\n"
    assert answers(meeting, path="journals/2024_02_01.md") == []
    assert "not yours: meeting notes" in left(meeting, path="journals/2024_02_01.md")


def test_outline_bullets_that_open_with_a_tag_and_headings_between_bullets():
    page = (
        "- #Errands took most of the morning and a long queue at the post office\n"
        f"\t- {DAY}\n"
        "- ## Scratchpad\n\t- TODO renew the library card\n"
        "## Thoughts\n"
        f"\t- {MORE}\n"
        "## Todos\n"
        "\t- TODO return the drill\n"
    )
    found = explain_note(parse_note(page, "journals/2024_03_02.md"), RULES, "sys")
    by_line = {p.line: p for p in found.passages}
    # "- #Errands took…" is a thought that opens with a tag, not a heading over its children.
    assert by_line[1].headings == () and by_line[1].text.startswith("took most of the morning")
    # A Markdown heading between bullets starts its own part; a later one ends it.
    assert by_line[6].headings == ("Thoughts",) and by_line[6].rule == "section:Thoughts"
    assert by_line[8].headings == ("Todos",) and by_line[8].left == "task list"
    assert MORE in answers(page, path="journals/2024_03_02.md")


@pytest.mark.parametrize(
    ("path", "url"),
    [
        ("post/2013-08-05-on-a-tandem.md", "https://me.example/post/2013-08-05-on-a-tandem/"),
        ("post/2013-08-05-on-a-tandem/index.md", "https://me.example/post/2013-08-05-on-a-tandem"),
        ("post/slow.md", "/post/slow/"),
    ],
)
def test_a_posts_own_url_is_not_an_import(path, url):
    post = f"---\ntitle: On slow Sundays\ndate: 2024-05-05\nurl: {url}\n---\n{DAY} {MORE}\n"
    assert answers(post, path=path) == [f"{DAY} {MORE}"]
    clipped = post.replace(url, "https://news.example/articles/why-tomatoes")
    assert left(clipped, path=path) == ["not yours: imported (frontmatter url)"]
    kindle = post.replace(f"url: {url}", "source: kindle")
    assert left(kindle, path=path) == ["not yours: imported (frontmatter source)"]


def test_posts_and_drafts():
    post = f"---\ntitle: On slow Sundays\ndate: 2024-05-05\ntags: [life]\n---\n{DAY} {MORE}\n"
    assert answers(post, path="content/posts/slow.md") == [f"{DAY} {MORE}"]
    draft = post.replace("tags: [life]", "tags: [life]\ndraft: true")
    assert answers(draft, path="content/posts/slow.md") == []
    assert left(draft, path="content/posts/slow.md") == ["draft (extraction.skip_drafts)"]
    assert answers(draft, "content/posts/slow.md", Extraction(skip_drafts=False))


def test_first_person_prose_is_scored_with_a_threshold_in_settings():
    text = f"{DAY}\n\nThe bus was late. Traffic everywhere.\n"
    assert answers(text) == [DAY]
    reasons = left(text)
    assert reasons == ["score 1 < 3 (-1 no first person, +1 sentences, +1 dated note)"]
    assert answers(text, rules=Extraction(prose_min_score=6)) == []


@pytest.mark.parametrize(
    ("path", "text", "reason"),
    [
        ("Readwise/Books/Deep Work.md", f"## Highlights\n- {DAY}\n", "not yours: imported"),
        ("Kindle/a.md", f"{DAY}\n", "not yours: imported"),
        ("Notes/a.md", f"---\nurl: https://x.org/tomato\n---\n{DAY}\n", "not yours: imported"),
        ("Notes/a.md", f"---\ncategory: articles\n---\n{DAY}\n", "not yours: imported"),
        ("Notes/a.md", f"- Full Title: A Book\n\n{DAY}\n", "not yours: imported"),
        ("Notes/a.md", f"---\nprivate: true\n---\n## Journal\n{DAY}\n", "private note"),
        ("Notes/a.md", f"#private\n\n## Journal\n{DAY}\n", "private note"),
        ("Notes/a.md", f"---\ntags: [work, meeting]\n---\n{DAY}\n", "not yours: meeting notes"),
        ("Notes/a.md", "## Setup\n```python\n" + "x = 1\n" * 40 + "```\n" + DAY, "code-heavy note"),
    ],
)
def test_notes_that_are_not_the_persons_words_give_nothing(path, text, reason):
    assert answers(text, path=path) == []
    assert left(text, path=path)[0].startswith(reason)


def test_author_who_is_someone_else():
    text = f"---\nauthor: Ada Writer\n---\n{DAY}\n"
    assert answers(text, path="Notes/a.md")  # with no names given, an author alone says little
    mine = Extraction(my_names=["Sam Lee"])
    assert answers(text, path="Notes/a.md", rules=mine) == []
    assert answers(text.replace("Ada Writer", "Sam Lee"), path="Notes/a.md", rules=mine)


@pytest.mark.parametrize(
    ("block", "reason"),
    [
        (f"> {DAY}\n> {MORE}", "not yours: quote"),
        (f"> [!quote] Someone\n> {DAY}", "not yours: quote"),
        ("```\nI wrote this code and I like it.\n```", "code"),
        ("| I | felt |\n| --- | --- |\n| my | day |", "table"),
        ("- [[Reading list]]\n- https://example.org/a\n- [[People/Noor]]", "link list"),
        ("- [ ] I must call the bank\n- [x] I paid the rent", "task list"),
        ("## Highlights\nI think this line is mine but sits under highlights.", "not yours"),
        ("- Standup #meeting\n\t- We agreed that I ship the fix on Friday.", "not yours: meeting"),
        ("Hi Nick, I read your draft and I think the second part works.", "a message to someone"),
        ("Hello team! I will be away on Friday, so I moved our review.", "a message to someone"),
        ("@maya: I pushed the fix, so my part is done for today.", "a message to someone"),
    ],
)
def test_blocks_that_are_not_prose_are_left_with_their_reason(block, reason):
    text = f"## Journal\n{block}\n"
    assert answers(text) == []
    assert left(text)[0].startswith(reason)


def test_lines_a_template_wrote_are_left_out(tmp_path: Path):
    templates = tmp_path / "vault" / "Templates"
    templates.mkdir(parents=True)
    (templates / "Daily.md").write_text(
        "---\ndate: {{date}}\n---\n# {{title}}\n\n## Reflections\n"
        "- What went well today?\n- [ ] What would I do differently?\n"
    )
    boilerplate = template_lines(tmp_path / "vault", "Templates")
    assert boilerplate == {"What went well today?", "What would I do differently?"}
    body = (
        "## Reflections\n- What went well today?\n"
        "The long call with my sister after dinner, on the balcony.\n"
        "- [ ] What would I do differently?\n"
    )
    note = parse_note(body, "Daily/2026-03-04.md")
    found = examples_from_note(note, RULES, "sys", boilerplate)
    assert [e["messages"][2]["content"] for e in found] == [
        "The long call with my sister after dinner, on the balcony."
    ]
    unfilled = parse_note("## Reflections\n- What went well today?\n", "Daily/2026-03-05.md")
    assert examples_from_note(unfilled, RULES, "sys", boilerplate) == []
    assert template_lines(tmp_path / "vault", "No such folder") == frozenset()


def test_adjacent_passages_form_one_answer_and_long_sections_split():
    paragraphs = [f"{DAY} Day {n} of the long week, and I kept going." for n in range(6)]
    text = "## Journal\n" + "\n\n".join(paragraphs) + "\n"
    whole = answers(text)
    assert whole == ["\n\n".join(paragraphs)]
    split = pairs(text, max_tokens=200)
    assert len(split) > 1
    assert "\n\n".join(a for _, a, _ in split) == whole[0]  # cut at paragraph boundaries
    assert len({q for q, _, _ in split}) == len(split)  # no two examples share a question
    assert all(len(a.split()) <= Limits(max_tokens=200).max_words for _, a, _ in split)


def test_fragments_under_the_token_floor_go():
    assert answers("## Journal\nOk day.\n") == []
    assert left("## Journal\nOk day.\n") == ["too short (2 words < 9)"]


def test_questions_follow_kind_and_topic():
    text = (
        "---\ntags: [daily, house-move]\n---\n# Saturday 4 March\n"
        "## The move\nI decided we will take the smaller flat, the light matters more to me.\n"
    )
    [(question, _, _)] = pairs(text)
    assert question == "What did I decide about the move, and why?"
    grateful = pairs(f"## Journal\nI am so grateful for my brother's call tonight, {MORE}\n")
    assert "grateful" in grateful[0][0] or "thankful" in grateful[0][0]


def test_sample_vault_keeps_its_old_habits_and_gains_the_new():
    notes = scan_vault(SAMPLE_VAULT).notes
    boilerplate = template_lines(SAMPLE_VAULT, RULES.templates_folder)
    examples = [e for n in notes for e in examples_from_note(n, RULES, "sys", boilerplate)]
    assert len(examples) > 150
    kinds = {e["kind"] for e in examples}
    assert {"decision", "insight", "learning", "takeaway", "realization", "wonder"} <= kinds
    rules = {e["found_by"].split(":")[0] for e in examples}
    assert {"tag", "phrase", "section", "question", "prose"} <= rules
    sources = {e["source_file"].split("/")[0] for e in examples}
    assert "journals" in sources  # the outliner pages
    assert not sources & {"Readwise", "Clippings", "Private"}
    for example in examples:
        assert [m["role"] for m in example["messages"]] == ["system", "user", "assistant"]
        answer = example["messages"][2]["content"]
        assert "[[" not in answer and "#reflection" not in answer and "%%" not in answer


@pytest.mark.parametrize("style", STYLES)
def test_vaults_in_each_style_give_most_daily_notes_and_nothing_not_theirs(tmp_path, style):
    written = write_vault(tmp_path / style, style, days=150)
    boilerplate = template_lines(written.root, RULES.templates_folder)
    gave: set[str] = set()
    answers_text = []
    for note in scan_vault(written.root).notes:
        for example in examples_from_note(note, RULES, "sys", boilerplate):
            gave.add(note.path)
            answers_text.append(example["messages"][2]["content"])
    covered = sum(1 for path in written.daily_with_writing if path in gave)
    assert covered >= 0.9 * len(written.daily_with_writing)
    assert not gave & {*written.not_yours, *written.private}
    assert not any(marker in a for marker in written.markers for a in answers_text)


@pytest.mark.parametrize(
    "text",
    [
        "Dear diary, I finally slept well and I woke up before the alarm.",
        "Hey, I finally finished the book I started in the spring and I loved it.",
        "Hello again, old habit: I skipped my walk and I regret it tonight.",
    ],
)
def test_greeting_oneself_is_still_journaling(text):
    assert answers(f"## Notes\n{text}\n") != []


@pytest.mark.parametrize(
    "text",
    [
        "I walked along the river after work and my head slowly cleared of the long meeting.",
        "We took the night train north and I barely slept, watching the dark fields roll past.",
        "I rebuilt the garden fence with my neighbour and we argued about the posts all day.",
    ],
)
def test_a_passage_with_a_subject_is_asked_about_it_before_its_day(text):
    post = f"---\ntitle: Musings on fences\n---\n{text}\n"
    ((question, _, _),) = pairs(post, path="post/2016-02-16-musings-on-fences.md")
    assert "'Musings on fences'" in question  # not "What happened on February 16, 2016?"
    ((daily, _, _),) = pairs(f"{text}\n")  # a daily note with no subject: asked about its day
    assert "March 4, 2026" in daily


def test_numbered_list_items_stay_lines_of_their_own():
    text = "## Journal\n1. I set two alarms every night now.\n2. I keep a notebook by my bed.\n"
    assert answers(text) == ["I set two alarms every night now.\nI keep a notebook by my bed."]


def test_an_empty_bullet_is_left_as_empty_not_as_a_table():
    assert left(f"- {DAY}\n- \n- {MORE}\n") == ["empty"]
