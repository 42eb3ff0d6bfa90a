"""`forge explain`: why each passage of a note was taken into the training set or left out."""

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from forge_pipeline.cli.app import app, console, current_settings, fail
from forge_pipeline.lib.core import chat
from forge_pipeline.lib.dataset.reflections import Limits, explain_note
from forge_pipeline.lib.vault.note import Skipped
from forge_pipeline.lib.vault.scan import read_note
from forge_pipeline.lib.vault.templates import template_lines


@app.command(rich_help_panel="Data")
def explain(
    note: Annotated[Path, typer.Argument(help="A note: its path inside the vault, or any path.")],
) -> None:
    """Each passage of one note: taken (which rule, the question, the example id) or left (why)."""
    settings = current_settings()
    path = note if note.is_absolute() or note.exists() else settings.vault / note
    if not path.is_file():
        fail(FileNotFoundError(f"No note at {path}; give its path inside {settings.vault}."))
    try:
        rel = path.resolve().relative_to(settings.vault).as_posix()
    except ValueError:
        rel = path.name
    parsed = read_note(path, rel, settings.parsing.max_note_kb * 1024)
    if isinstance(parsed, Skipped):
        fail(ValueError(f"{rel} is not read as a note: {parsed.reason}."))
    boilerplate = template_lines(
        settings.vault, settings.extraction.templates_folder, settings.parsing
    )
    limits = Limits(settings.curation.min_tokens, settings.curation.max_tokens)
    found = explain_note(parsed, settings.extraction, settings.system_prompt, boilerplate, limits)
    console.print(f"[bold]{rel}[/bold]: {len(found.examples)} example(s)")
    if found.excluded:
        console.print(f"left out whole: {found.excluded}")
        return
    questions = {e["id"]: chat.question(e) for e in found.examples}
    for passage in found.passages:
        place = " › ".join(passage.headings) or "(top of the note)"
        console.print(f"\n[bold]line {passage.line}[/bold]  {place}", highlight=False)
        excerpt = passage.text[:160] + ("…" if len(passage.text) > 160 else "")
        if passage.left is None and passage.example:
            console.print(f"  [green]taken[/green] by {passage.rule} → {passage.example}")
            console.print(f"  question: {questions[passage.example]}", markup=False)
        else:
            console.print(f"  [yellow]left[/yellow]: {escape(passage.left or '')}")
        if excerpt:
            console.print(f"  {excerpt}", markup=False, highlight=False)
