"""Reflection extraction and text cleaning.

Does not touch: Dagster, models, files other than the sample vault and a temporary template.
"""

from pathlib import Path

import pytest

from forge_pipeline.lib.core.config import Extraction
from forge_pipeline.lib.dataset.reflections import examples_from_note, find_reflections, plain_text
from forge_pipeline.lib.vault.scan import parse_note, scan_vault
from forge_pipeline.lib.vault.templates import template_lines
from forge_pipeline_tests.helpers import SAMPLE_VAULT

RULES = Extraction()


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
    ],
)
def test_plain_text(markdown, plain):
    assert plain_text(markdown) == plain


def test_finds_by_header_tag_and_phrase():
    body = (
        "## Log\n- ran 5 km\n\nShipped it. #reflection\n\nLooking back, it was fine.\n\n"
        "Plain line.\n\n## Takeaways\nWrite things down.\n\n## Next\n- more"
    )
    found = find_reflections(body, RULES)
    assert [(r.kind, r.text) for r in found] == [
        ("reflection", "Shipped it."),
        ("hindsight", "Looking back, it was fine."),
        ("takeaway", "Write things down."),
    ]


def test_plain_notes_give_no_examples():
    note = parse_note("# Day\n## Log\n- groceries\n- call the bank\n", "Daily/2026-01-01.md")
    assert examples_from_note(note, RULES, "sys") == []


def test_sample_vault_examples_are_clean_chat_records():
    examples = [
        e for n in scan_vault(SAMPLE_VAULT).notes for e in examples_from_note(n, RULES, "sys")
    ]
    assert len(examples) > 100
    kinds = {e["kind"] for e in examples}
    assert {
        "decision",
        "insight",
        "learning",
        "takeaway",
        "realization",
        "wonder",
        "hindsight",
    } <= kinds
    for example in examples:
        roles = [m["role"] for m in example["messages"]]
        assert roles == ["system", "user", "assistant"]
        answer = example["messages"][2]["content"]
        assert "[[" not in answer and "#reflection" not in answer and "%%" not in answer
        assert example["source_file"].endswith(".md")


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
        "## Reflections\n- What went well today?\nThe long call with my sister.\n"
        "- [ ] What would I do differently?\n"
    )
    assert [r.text for r in find_reflections(body, RULES, boilerplate)] == [
        "The long call with my sister."
    ]
    unfilled = "## Reflections\n- What went well today?\n- [ ] What would I do differently?\n"
    assert find_reflections(unfilled, RULES, boilerplate) == []
    assert find_reflections(unfilled, RULES)  # without the templates, the prompts look like one
    assert template_lines(tmp_path / "vault", "No such folder") == frozenset()
