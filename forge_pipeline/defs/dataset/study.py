"""dataset_study: what the curated set looks like, with Gemini's assessment when allowed."""

import json

import dagster as dg

from forge_pipeline.defs.copilot_metadata import gemini_metadata
from forge_pipeline.defs.resources import ForgeResource, GeminiResource
from forge_pipeline.lib.copilot.gemini import GeminiError
from forge_pipeline.lib.copilot.tasks import DatasetAssessment, assess_dataset, redacted_samples
from forge_pipeline.lib.core.artifacts import atomic_file
from forge_pipeline.lib.core.jsonl import read_jsonl
from forge_pipeline.lib.core.layout import Layout
from forge_pipeline.lib.core.tables import markdown_table
from forge_pipeline.lib.dataset.study import rule_recommendations, study_statistics


@dg.asset(group_name="dataset", kinds={"gemini", "markdown"}, deps=["curated_dataset"])
def dataset_study(
    context: dg.AssetExecutionContext, forge: ForgeResource, gemini: GeminiResource
) -> dg.MaterializeResult:
    """Statistics and recommendations for the curated set; Gemini's assessment with consent."""
    settings, layout = forge.settings(), forge.layout()
    train = read_jsonl(Layout.require(layout.train, "curated_dataset"))
    val = read_jsonl(Layout.require(layout.val, "curated_dataset"))
    token_stats = json.loads(Layout.require(layout.curated_stats, "curated_dataset").read_text())
    stats = study_statistics(train, val, token_stats)
    max_length = settings.training.max_length
    rules = rule_recommendations(stats, max_length if isinstance(max_length, int) else None)
    client, reason = gemini.client(settings.gemini, sends_notes=True)
    assessment = None
    if client:
        try:
            assessment = assess_dataset(
                client, stats, redacted_samples(train + val, settings.gemini)
            )
        except GeminiError as exc:
            reason = f"{exc} The offline report stands in."
            context.log.warning(reason)
    report = _report(stats, rules, assessment, reason)
    used = gemini_metadata(client, reason)
    if assessment is None:  # asked and failed: what was sent is still counted
        used.update(gemini_used=False, gemini_not_used_because=reason)
    with atomic_file(layout.study) as tmp:
        tmp.write_text(report, encoding="utf-8")
    return dg.MaterializeResult(
        metadata={
            "report": dg.MetadataValue.md(report),
            "path": dg.MetadataValue.path(str(layout.study)),
            "train_examples": stats["train_examples"],
            "answer_words_p50": stats["answer_words_p50"],
            "duplicates_left": stats["duplicates_left"],
            "main_language": next(iter(stats["languages"]), "unknown"),
            **({"quality_score": assessment.quality_score} if assessment else {}),
            **used,
        }
    )


def _report(
    stats: dict, rules: list[str], assessment: DatasetAssessment | None, reason: str
) -> str:
    """The study as Markdown: statistics, rule recommendations, Gemini's view or why none."""
    rows = [
        (k, json.dumps(v, ensure_ascii=False) if isinstance(v, dict) else v)
        for k, v in stats.items()
    ]
    parts = ["## Statistics", markdown_table(["measure", "value"], rows), "## Rule-based advice"]
    parts += [f"- {line}" for line in rules]
    parts.append("## Gemini")
    if assessment is None:
        parts.append(f"Gemini was not used: {reason.rstrip('.')}.")
        return "\n\n".join(parts)
    parts.append(f"Quality score: **{assessment.quality_score}/10**. {assessment.summary}")
    if assessment.problems:
        parts.append(
            markdown_table(
                ["problem", "examples"],
                [(p.issue, ", ".join(p.example_ids[:8])) for p in assessment.problems],
            )
        )
    parts += [f"- {line}" for line in assessment.recommendations]
    return "\n\n".join(parts)
