"""reflection_examples and curated_dataset: from parsed notes to train/val chat JSONL."""

import json
from collections import Counter
from typing import Any

import dagster as dg

from forge_pipeline.defs.copilot_metadata import gemini_metadata
from forge_pipeline.defs.resources import ForgeResource, GeminiResource
from forge_pipeline.lib.copilot.questions import with_gemini_questions
from forge_pipeline.lib.copilot.tasks import map_columns
from forge_pipeline.lib.core import chat
from forge_pipeline.lib.core.artifacts import atomic_file, sha256_file
from forge_pipeline.lib.core.base_model import resolve_base_model
from forge_pipeline.lib.core.config import Curation
from forge_pipeline.lib.core.jsonl import read_jsonl, write_jsonl
from forge_pipeline.lib.core.layout import Layout
from forge_pipeline.lib.core.tables import markdown_table
from forge_pipeline.lib.core.tokens import CachedTokenCounter
from forge_pipeline.lib.dataset.curation import Curated, curate, pii_left
from forge_pipeline.lib.dataset.extraction import ExtractionRun, extract_all, rule_category
from forge_pipeline.lib.dataset.forgetting import ForgetError, load_forgotten
from forge_pipeline.lib.dataset.plain import DatasetError, read_dataset
from forge_pipeline.lib.dataset.profile import (
    by_month,
    by_tag,
    duplicates_left,
    empty_turns,
    length_histogram,
    percentile,
    schema_errors,
)
from forge_pipeline.lib.dataset.reflections import Limits
from forge_pipeline.lib.dataset.review import ReviewError, load_review
from forge_pipeline.lib.vault.templates import template_lines

SAMPLE_SIZE = 10  # examples shown in the metadata, spread over the set


def by_rule(examples: list[dict[str, Any]]) -> list[tuple[str, int]]:
    """Examples per rule that found them (plain datasets: dataset)."""
    return Counter(rule_category(e.get("found_by") or "dataset") for e in examples).most_common()


@dg.asset(group_name="dataset", kinds={"jsonl"}, deps=["vault_notes"])
def reflection_examples(
    context: dg.AssetExecutionContext, forge: ForgeResource, gemini: GeminiResource
) -> dg.MaterializeResult:
    """The person's own words as chat examples (system, question, their answer), note by note."""
    settings, layout = forge.settings(), forge.layout()
    boilerplate = template_lines(
        settings.vault, settings.extraction.templates_folder, settings.parsing
    )
    run = extract_all(
        Layout.require(layout.notes, "vault_notes"),
        layout.extraction_cache,
        settings.extraction,
        settings.system_prompt,
        boilerplate,
        Limits(settings.curation.min_tokens, settings.curation.max_tokens),
    )
    client, reason = gemini.client(settings.gemini, sends_notes=True)
    questions: dict[str, Any] = {}
    if client:
        examples = [json.loads(line) for line in run.lines]
        asked = with_gemini_questions(
            examples, client, layout.gemini_questions, settings.gemini.max_questions_per_run
        )
        if asked.error:
            context.log.warning(f"{asked.error} Template questions are kept for the rest.")
        questions = {
            "questions_from_gemini_cache": asked.from_cache,
            "questions_written_by_gemini": asked.written_now,
            "questions_from_templates": asked.templated,
        }
        write_jsonl(layout.examples, examples)
    else:
        run.write(layout.examples)
        examples = [json.loads(line) for line in run.spread_sample(SAMPLE_SIZE)]  # dicts: a few
    sha = sha256_file(layout.examples)
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(layout.examples)),
            **extraction_metadata(run, len(boilerplate)),
            "sample": dg.MetadataValue.md(example_sample(examples)),
            **questions,
            **gemini_metadata(client, reason),
            "sha256": sha,
        },
        data_version=dg.DataVersion(sha[:16]),
    )


def extraction_metadata(run: ExtractionRun, template_lines_left_out: int) -> dict[str, Any]:
    """What extraction found and left, by rule and reason, and how much of the journal it covers."""
    not_yours = sum(n for reason, n in run.left.items() if reason.startswith("not yours"))
    return {
        "examples": len(run.examples),
        "notes_with_examples": run.notes_with_examples,
        "notes_extracted_this_run": run.notes_extracted,
        "notes_reused": run.notes_reused,
        "daily_notes": run.daily_notes,
        "daily_coverage": dg.MetadataValue.float(run.daily_coverage),
        "left_out_not_yours": not_yours,
        "left_out_private": run.left.get("private note", 0),
        "template_lines_left_out": template_lines_left_out,
        "by_rule": dg.MetadataValue.md(
            markdown_table(["rule", "examples"], run.rules.most_common())
        ),
        "left_out_by_reason": dg.MetadataValue.md(
            markdown_table(["reason", "passages or notes"], run.left.most_common())
        ),
        "by_kind": dg.MetadataValue.md(
            markdown_table(["kind", "examples"], run.kinds.most_common())
        ),
    }


def example_sample(examples: list[dict[str, Any]]) -> str:
    """Examples as a Markdown table, each with the rule that found it."""
    return markdown_table(
        ["id", "source", "rule", "question", "answer"],
        [
            (
                e["id"],
                e["source_file"],
                e.get("found_by", ""),
                chat.question(e),
                chat.answer(e)[:160],
            )
            for e in examples[:: max(1, len(examples) // SAMPLE_SIZE)][:SAMPLE_SIZE]
        ],
    )


@dg.asset(group_name="dataset", kinds={"csv", "parquet", "jsonl"})
def dataset_examples(forge: ForgeResource, gemini: GeminiResource) -> dg.MaterializeResult:
    """Chat examples from the plain datasets named in datasets.files (none: an empty set)."""
    settings, layout = forge.settings(), forge.layout()
    examples, rows = [], []
    client, reason = gemini.client(settings.gemini, sends_notes=True)
    guess = (lambda columns, rows: map_columns(client, columns, rows)) if client else None
    for path in settings.datasets.files:
        try:
            result = read_dataset(path, settings.system_prompt, settings.datasets.mapping, guess)
        except DatasetError as exc:
            raise dg.Failure(description=str(exc)) from exc
        examples.extend(result.examples)
        mapping = ", ".join(f"{role}={column}" for role, column in result.mapping.items())
        rows.append((path.name, result.rows, len(result.examples), result.skipped_rows, mapping))
    write_jsonl(layout.dataset_examples, examples)
    sha = sha256_file(layout.dataset_examples)
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(layout.dataset_examples)),
            "files": len(settings.datasets.files),
            "examples": len(examples),
            "by_file": dg.MetadataValue.md(
                markdown_table(["file", "rows", "examples", "skipped rows", "mapping"], rows)
                if rows
                else "No dataset files configured (datasets.files in forge.yaml)."
            ),
            **gemini_metadata(client, reason),
            "sha256": sha,
        },
        data_version=dg.DataVersion(sha[:16]),
    )


@dg.asset(
    group_name="dataset",
    kinds={"jsonl"},
    deps=["reflection_examples", "dataset_examples"],
    check_specs=[
        dg.AssetCheckSpec(
            "enough_examples",
            asset="curated_dataset",
            blocking=True,
            description="At least curation.min_examples training examples.",
        ),
        *[
            dg.AssetCheckSpec(name, asset="curated_dataset", blocking=True, description=text)
            for name, text in [
                ("schema_valid", "Every example is system?/user/assistant turns of text."),
                ("no_empty_turns", "No user or assistant turn is blank."),
                ("no_duplicates_left", "No assistant turn repeats another."),
            ]
        ],
        dg.AssetCheckSpec(
            "no_pii_left",
            asset="curated_dataset",
            blocking=True,
            description="With curation.redact_pii on, no email, phone number or URL is left.",
        ),
        dg.AssetCheckSpec(
            "train_val_disjoint",
            asset="curated_dataset",
            blocking=True,
            description="No source file is in both train and val.",
        ),
    ],
)
def curated_dataset(
    context: dg.AssetExecutionContext, forge: ForgeResource
) -> dg.MaterializeResult:
    """Vault and dataset examples, deduplicated, length-filtered, split by source file."""
    settings, layout = forge.settings(), forge.layout()
    examples = read_jsonl(Layout.require(layout.examples, "reflection_examples")) + read_jsonl(
        Layout.require(layout.dataset_examples, "dataset_examples")
    )
    try:
        review = load_review(settings.curation.review_file)
        forgotten = load_forgotten(settings.curation.forget_file)
    except (ReviewError, ForgetError) as exc:
        raise dg.Failure(description=str(exc)) from exc
    counter = CachedTokenCounter(resolve_base_model(settings), layout.token_counts)
    curated = curate(examples, settings.curation, counter, review, forgotten)
    counter.save()
    if curated.unknown_review_ids:
        context.log.warning(
            f"{len(curated.unknown_review_ids)} ids in {settings.curation.review_file} match no "
            f"example (the note changed?): {', '.join(curated.unknown_review_ids[:10])}"
        )
    write_jsonl(layout.train, curated.train)
    write_jsonl(layout.val, curated.val)
    lengths = sorted(curated.token_lengths)
    stats = {
        "tokens_p50": percentile(lengths, 0.5),
        "tokens_p95": percentile(lengths, 0.95),
        "tokens_max": lengths[-1] if lengths else 0,
    }
    with atomic_file(layout.curated_stats) as tmp:
        tmp.write_text(json.dumps(stats))  # the training plan sizes max_length from these
    kept = curated.train + curated.val
    version = layout.dataset_version()
    return dg.MaterializeResult(
        metadata={
            "train_path": dg.MetadataValue.path(str(layout.train)),
            "val_path": dg.MetadataValue.path(str(layout.val)),
            "train_examples": len(curated.train),
            "val_examples": len(curated.val),
            "examples_in": len(examples),
            **{f"dropped_{reason}": count for reason, count in curated.dropped.items()},
            "edited_in_review": curated.edited,
            "review_ids_unmatched": len(curated.unknown_review_ids),
            **stats,
            "pii_redactions": curated.redactions,
            "by_tag": dg.MetadataValue.md(markdown_table(["tag", "examples"], by_tag(kept))),
            "by_month": dg.MetadataValue.md(markdown_table(["month", "examples"], by_month(kept))),
            "length_histogram": dg.MetadataValue.md(
                markdown_table(["conversation tokens", "examples"], length_histogram(lengths))
            ),
            "by_rule": dg.MetadataValue.md(markdown_table(["rule", "examples"], by_rule(kept))),
            "sample": dg.MetadataValue.md(example_sample(kept)),
        },
        check_results=curation_checks(curated, settings.curation),
        data_version=dg.DataVersion(version),
    )


def curation_checks(curated: Curated, rules: Curation) -> list[dg.AssetCheckResult]:
    """The curated set's blocking checks, each with the figures behind its verdict."""
    kept = curated.train + curated.val
    minimum = rules.min_examples
    enough = len(curated.train) >= minimum and len(curated.val) > 0
    leftover = pii_left(kept)
    schema, empty, dupes = schema_errors(kept), empty_turns(kept), duplicates_left(kept)
    shared = {e["source_file"] for e in curated.train} & {e["source_file"] for e in curated.val}
    return [
        dg.AssetCheckResult(
            check_name="schema_valid", passed=schema == 0, metadata={"invalid": schema}
        ),
        dg.AssetCheckResult(
            check_name="no_empty_turns", passed=empty == 0, metadata={"examples": empty}
        ),
        dg.AssetCheckResult(
            check_name="no_duplicates_left", passed=dupes == 0, metadata={"duplicates": dupes}
        ),
        dg.AssetCheckResult(
            check_name="no_pii_left",
            passed=not rules.redact_pii or leftover == 0,
            metadata={"redaction": rules.redact_pii, "examples_with_pii": leftover},
        ),
        dg.AssetCheckResult(
            check_name="enough_examples",
            passed=enough,
            metadata={
                "train_examples": len(curated.train),
                "val_examples": len(curated.val),
                "minimum": minimum,
            },
            description=None
            if enough
            else f"{len(curated.train)} train / {len(curated.val)} val examples (minimum "
            f"{minimum} train, 1 val); add reflections or lower curation.min_examples.",
        ),
        dg.AssetCheckResult(
            check_name="train_val_disjoint",
            passed=not shared,
            metadata={"shared_files": len(shared)},
        ),
    ]
