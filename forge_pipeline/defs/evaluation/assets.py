"""model_evaluation: the new GGUF answering beside the base and deployed ones, and its gates."""

import json
import time
from pathlib import Path
from statistics import fmean
from typing import Any

import dagster as dg

from forge_pipeline.defs.resources import ForgeResource
from forge_pipeline.lib.core import chat
from forge_pipeline.lib.core.artifacts import atomic_file, sha256_file
from forge_pipeline.lib.core.base_model import ModelError, local_model_dir, resolve_base_model
from forge_pipeline.lib.core.config import Evaluation, Settings
from forge_pipeline.lib.core.jsonl import read_jsonl
from forge_pipeline.lib.core.layout import Layout
from forge_pipeline.lib.core.memo import Memo
from forge_pipeline.lib.core.sampling import asked_rounds, stable_sample
from forge_pipeline.lib.core.tables import markdown_table
from forge_pipeline.lib.dataset.redact import find_pii
from forge_pipeline.lib.evaluation.embedding import (
    EmbeddingError,
    prepare_embedding_model,
    similarities,
)
from forge_pipeline.lib.evaluation.figures import (
    Reply,
    distinct_2,
    loop_share,
    pii_leaked,
    stop_rate,
)
from forge_pipeline.lib.evaluation.generation import Recall, answers, recalls
from forge_pipeline.lib.evaluation.voice import (
    CHAR_METHOD,
    DELTA_METHOD,
    DELTA_WORDS,
    burrows_delta,
    char_profile_similarity,
)
from forge_pipeline.lib.export.gguf_check import GGUFError
from forge_pipeline.lib.export.gguf_export import cached_gguf
from forge_pipeline.lib.vault.notes_store import read_table, values
from forge_pipeline.serving.provenance import forgotten_versions
from forge_pipeline.serving.registry import ModelRegistry, RegistryError

CELL_CHARS = 200  # of each answer in the side-by-side table
SIMILARITY_METHOD = (
    "cosine similarity of all-MiniLM-L6-v2 sentence embeddings (mean-pooled) between each "
    "answer and your own answer to the same question, averaged"
)


def _check(name: str, text: str) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(name, asset="model_evaluation", blocking=True, description=text)


@dg.asset(
    group_name="evaluation",
    kinds={"llama_cpp"},
    deps=["gguf_model"],
    check_specs=[
        _check(
            "stops_when_done",
            "The share of answers ending with end-of-turn before evaluation.max_tokens is no "
            "more than evaluation.stop_margin below the base model's.",
        ),
        _check(
            "no_verbatim_recall",
            "Given the opening of a training answer, the model reproduces "
            "evaluation.verbatim_tokens of its continuation in at most "
            "evaluation.max_verbatim_share of the samples.",
        ),
        _check(
            "no_pii_in_answers",
            "No email, phone number or URL of the vault appears in the model's answers "
            "(unless evaluation.allow_pii).",
        ),
    ],
)
def model_evaluation(
    context: dg.AssetExecutionContext, forge: ForgeResource
) -> dg.MaterializeResult:
    """The served GGUF, the base model and the deployed version answer the same val questions."""
    settings, layout = forge.settings(), forge.layout()
    rules, threads = settings.evaluation, settings.training.threads
    serve_type = settings.export.serve_type
    tuned = Layout.require(layout.gguf(serve_type), "gguf_model")
    started = time.perf_counter()
    distinct = stable_sample(read_jsonl(layout.val), rules.questions)
    questioned = asked_rounds(distinct, rules.questions)
    trained = read_jsonl(layout.train)
    questions = [chat.question(e) for e in questioned]
    try:
        base_dir = local_model_dir(resolve_base_model(settings))
        base = cached_gguf(base_dir, settings.cache, serve_type, settings.tools_dir)
        models = {"base": base, "tuned": tuned}
        registry = ModelRegistry(settings.registry_dir)
        deployed = _deployed(registry, settings.base_model)
        if deployed:
            models["deployed"] = deployed
        # Answers of a version that holds a forgotten note are not kept for later runs.
        keep = set(models) - ({"deployed"} if _holds_forgotten(registry, settings) else set())
        replies = _answers(settings, layout, models, questions, keep)
        probed = stable_sample(trained, rules.recall_samples)
        recall = recalls(tuned, probed, rules.recall_prefix_tokens, rules.recall_tokens, threads)
    except (GGUFError, ModelError) as exc:
        raise dg.Failure(description=f"Evaluation failed, nothing deployed: {exc}") from exc
    said = [r.text for r in replies["tuned"]] + [r.text for r in recall]
    leaked = pii_leaked(said, _vault_pii(layout))
    figures = _figures(replies, recall, rules)
    held_out = " ".join(chat.answer(e) for e in distinct)
    reference = [chat.answer(e) for e in trained]
    for name, found in replies.items():
        texts = " ".join(r.text for r in found)
        figures[f"voice_delta_{name}"] = burrows_delta(texts, held_out, reference)
        figures[f"voice_char3_{name}"] = char_profile_similarity(texts, held_out)
    own = [chat.answer(e) for e in questioned]
    figures |= _content_similarity(context, settings, replies, own)
    figures["eval_seconds"] = round(time.perf_counter() - started, 1)
    with atomic_file(layout.evaluation) as tmp:
        tmp.write_text(json.dumps(figures, indent=2))
    context.log.info(f"Evaluated {len(questions)} questions and {len(recall)} recall probes.")
    return dg.MaterializeResult(
        metadata={
            **figures,
            "models": ", ".join(models),
            "answers_per_model": len(questions),
            "distinct_questions": len(distinct),
            "voice_method": DELTA_METHOD.format(n=DELTA_WORDS),
            "voice_char3_method": CHAR_METHOD,
            "similarity_method": SIMILARITY_METHOD,
            "side_by_side": dg.MetadataValue.md(_side_by_side(distinct, replies)),
        },
        check_results=_checks(figures, recall, leaked, rules),
    )


def _answers(
    settings: Settings,
    layout: Layout,
    models: dict[str, Path],
    questions: list[str],
    keep: set[str],
) -> dict[str, list[Reply]]:
    """Each model's answers; the base's and the deployed one's mostly from the memo of the last
    run (where the deployed model was the new one). The memo then keeps the models in keep."""
    rules, memo = settings.evaluation, Memo(layout.answers)
    asked = (settings.system_prompt, questions, rules.max_tokens, settings.training.threads)
    replies = {}
    for name, path in models.items():
        sha = sha256_file(path)
        replies[name] = answers(path, *asked, rules.temperature, memo.of(sha))
        if name not in keep:
            memo.forget(sha)
    memo.save()
    return replies


def _content_similarity(
    context: dg.AssetExecutionContext,
    settings: Settings,
    replies: dict[str, list[Reply]],
    own: list[str],
) -> dict[str, float]:
    """Each model's mean similarity to the person's own answers, and tuned over base."""
    try:
        model = prepare_embedding_model(settings.models_dir)
    except EmbeddingError as exc:
        context.log.warning(f"No content similarity this run: {exc}")
        return {}
    found = {
        f"content_similarity_{name}": round(
            fmean(similarities(model, [r.text for r in answered], own)), 4
        )
        for name, answered in replies.items()
    }
    tuned, base = found["content_similarity_tuned"], found["content_similarity_base"]
    found["content_similarity_ratio"] = round(tuned / base, 3) if base > 0 else 0.0
    return found


def _deployed(registry: ModelRegistry, base_model: str):
    """The deployed version's GGUF, when one of the same base model is deployed."""
    version = registry.current_version()
    try:
        if version and registry.manifest(version).get("base_model") == base_model:
            path = registry.model_path(version)
            return path if path.is_file() else None
    except RegistryError:
        pass  # a broken deployed version is left out of the comparison
    return None


def _holds_forgotten(registry: ModelRegistry, settings: Settings) -> bool:
    """Whether the deployed version was trained on something in the forget file."""
    return registry.current_version() in forgotten_versions(registry, settings)


def _vault_pii(layout: Layout) -> set[str]:
    """Every email, phone number and URL written in the vault's notes."""
    bodies = values(read_table(layout.notes, ["body"])["body"])
    return {item for body in bodies for item in find_pii(body)}


def _figures(
    replies: dict[str, list[Reply]], recall: list[Recall], rules: Evaluation
) -> dict[str, Any]:
    leaks = [r for r in recall if r.verbatim >= rules.verbatim_tokens]
    figures: dict[str, Any] = {}
    for name, found in replies.items():
        texts = [r.text for r in found]
        figures[f"stop_rate_{name}"] = stop_rate(found)
        figures[f"distinct_2_{name}"] = distinct_2(texts)
        figures[f"loop_share_{name}"] = loop_share(texts)
    figures["verbatim_share"] = round(len(leaks) / len(recall), 3) if recall else 0.0
    figures["longest_verbatim_tokens"] = max((r.verbatim for r in recall), default=0)
    figures["recall_probes"] = len(recall)
    return figures


def _checks(
    figures: dict[str, Any], recall: list[Recall], leaked: list[str], rules: Evaluation
) -> list[dg.AssetCheckResult]:
    tuned, base = figures["stop_rate_tuned"], figures["stop_rate_base"]
    stops = tuned >= base - rules.stop_margin
    leaks = [r.example_id for r in recall if r.verbatim >= rules.verbatim_tokens]
    recalled = figures["verbatim_share"] <= rules.max_verbatim_share
    clean = not leaked or rules.allow_pii
    return [
        dg.AssetCheckResult(
            check_name="stops_when_done",
            passed=stops,
            metadata={
                "stop_rate_tuned": tuned,
                "stop_rate_base": base,
                "margin": rules.stop_margin,
            },
            description=None
            if stops
            else f"The new model ends {tuned:.0%} of its answers by itself, the base model "
            f"{base:.0%}: it rambles, so it is not deployed; train fewer steps or check the "
            "chat template.",
        ),
        dg.AssetCheckResult(
            check_name="no_verbatim_recall",
            passed=recalled,
            metadata={
                "verbatim_share": figures["verbatim_share"],
                "allowed_share": rules.max_verbatim_share,
                "verbatim_tokens": rules.verbatim_tokens,
                "leaked_example_ids": ", ".join(leaks),
            },
            description=None
            if recalled
            else f"{len(leaks)} of {len(recall)} training answers come back word for word "
            f"({', '.join(leaks)}): the model recites your notes, so it is not deployed; train "
            "fewer epochs or a lower learning rate.",
        ),
        dg.AssetCheckResult(
            check_name="no_pii_in_answers",
            passed=clean,
            # How many, never which: the details themselves stay out of the metadata.
            metadata={"vault_details_in_answers": len(leaked), "allowed": rules.allow_pii},
            description=None
            if clean
            else f"{len(leaked)} email(s), phone number(s) or URL(s) from your vault appear in "
            "the model's answers, so it is not deployed; turn on curation.redact_pii (or set "
            "evaluation.allow_pii).",
        ),
    ]


def _side_by_side(examples: list[dict[str, Any]], replies: dict[str, list[Reply]]) -> str:
    """Question | each model's answer | the person's own answer, for the sampled val questions."""
    names = list(replies)
    rows = [
        (
            chat.question(example),
            *(replies[name][i].text[:CELL_CHARS] for name in names),
            chat.answer(example)[:CELL_CHARS],
        )
        for i, example in enumerate(examples)
    ]
    return markdown_table(["question", *names, "your answer"], rows)
