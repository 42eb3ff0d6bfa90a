"""merged_model and gguf_model: one full model, then GGUFs that llama.cpp loads and answers."""

import json

import dagster as dg

from forge_pipeline.defs.resources import ForgeResource
from forge_pipeline.lib.core.artifacts import atomic_dir, dir_bytes, sha256_file
from forge_pipeline.lib.core.base_model import resolve_base_model
from forge_pipeline.lib.core.config import Settings
from forge_pipeline.lib.core.jsonl import read_jsonl
from forge_pipeline.lib.core.layout import Layout
from forge_pipeline.lib.core.memo import Memo
from forge_pipeline.lib.core.sampling import stable_sample
from forge_pipeline.lib.core.tables import markdown_table
from forge_pipeline.lib.export.gguf_check import (
    GGUFError,
    Scored,
    gguf_mean_nll,
    hf_mean_nll,
    perplexity,
    val_sequences,
    validate_gguf,
)
from forge_pipeline.lib.export.gguf_export import ExportedGGUF, export_all
from forge_pipeline.lib.export.merge import merge_adapter
from forge_pipeline.serving.provenance import forgotten_versions
from forge_pipeline.serving.registry import ModelRegistry, RegistryError


@dg.asset(group_name="export", kinds={"safetensors"}, deps=["lora_adapter"])
def merged_model(forge: ForgeResource) -> dg.MaterializeResult:
    """The adapter merged into a full-precision base: safetensors, tokenizer, chat template."""
    settings, layout = forge.settings(), forge.layout()
    merge_adapter(
        resolve_base_model(settings),
        Layout.require(layout.adapter, "lora_adapter"),
        layout.merged,
    )
    sha = sha256_file(layout.merged / "model.safetensors")
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(layout.merged)),
            "bytes": dir_bytes(layout.merged),
            "sha256": sha,
            "chat_template": (layout.merged / "chat_template.jinja").exists(),
        },
        data_version=dg.DataVersion(sha[:16]),
    )


@dg.asset(
    group_name="export",
    kinds={"gguf", "llama_cpp"},
    deps=["merged_model"],
    check_specs=[
        dg.AssetCheckSpec(
            "beats_deployed",
            asset="gguf_model",
            blocking=True,
            description="Val loss of the new GGUF is no worse than the deployed model's on the "
            "same val set (first deploy: than the base model's).",
        )
    ],
)
def gguf_model(context: dg.AssetExecutionContext, forge: ForgeResource) -> dg.MaterializeResult:
    """GGUFs by llama.cpp (f16, q8_0, q4_k_m), each loaded, scored and given a Modelfile."""
    settings, layout = forge.settings(), forge.layout()
    merged = Layout.require(layout.merged, "merged_model")
    threads = settings.training.threads
    trained = json.loads(
        Layout.require(layout.adapter / "train_config.json", "lora_adapter").read_text()
    )
    scored = read_jsonl(layout.val)
    if settings.export.score_examples:
        # Five models are scored (merged, three GGUFs, deployed): on 144 val examples, 8 min.
        scored = stable_sample(scored, settings.export.score_examples)
    sequences = val_sequences(merged, scored, trained["max_length"])
    serve_type = settings.export.serve_type
    if serve_type not in settings.export.gguf_types:
        raise dg.Failure(
            description=f"export.serve_type {serve_type!r} is not in "
            "export.gguf_types; add it there."
        )
    memo, served_scores = Memo(layout.val_scores), {}
    try:
        with atomic_dir(layout.gguf_dir) as out:
            exported = export_all(
                merged,
                out,
                settings.export.gguf_types,
                settings.tools_dir,
                sequences,
                settings.system_prompt,
                threads,
                {serve_type: served_scores},
            )
            check = validate_gguf(
                out / f"model-{serve_type}.gguf",
                settings.smoke_prompt,
                settings.system_prompt,
                threads,
            )
    except GGUFError as exc:
        raise dg.Failure(description=f"Export failed, nothing deployed: {exc}") from exc
    for item in exported:
        if not item.modelfile:
            context.log.warning(
                f"No Ollama Modelfile for {item.path.name}: its chat template is not ChatML."
            )
    served = layout.gguf(serve_type)
    new_loss = next(item.val_nll for item in exported if item.gguf_type == serve_type)
    sha = sha256_file(served)
    # Kept for the next run, where this model is the deployed one and scores the same examples.
    memo.of(sha).update(served_scores)
    reference, reference_loss = _reference_loss(settings, sequences, threads, memo)
    memo.save()
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(layout.gguf_dir)),
            "served_file": served.name,
            "files": dg.MetadataValue.md(files_table(exported, layout)),
            "served_val_loss": round(new_loss, 4),
            "scored_examples": len(sequences),
            "sha256": sha,
            "architecture": check.architecture,
            "chat_template_embedded": check.chat_template,
            "load_seconds": check.load_seconds,
            "tokens_per_s": check.tokens_per_s,
            "prompt": settings.smoke_prompt,
            "reply": dg.MetadataValue.text(check.reply),
        },
        check_results=[beats_deployed(new_loss, reference, reference_loss)],
        data_version=dg.DataVersion(sha[:16]),
    )


def files_table(exported: list[ExportedGGUF], layout: Layout) -> str:
    """Each GGUF written: its type, size, val perplexity beside the merged model's, Modelfile."""
    return markdown_table(
        ["type", "bytes", "val perplexity", "vs merged (transformers)", "Modelfile"],
        [
            (
                i.gguf_type,
                layout.gguf(i.gguf_type).stat().st_size,
                perplexity(i.val_nll),
                i.perplexity_ratio,
                i.modelfile,
            )
            for i in exported
        ],
    )


def beats_deployed(new_loss: float, reference: str, reference_loss: float) -> dg.AssetCheckResult:
    """The deploy gate: the new GGUF's val loss is no worse than the deployed (or base) one's."""
    passed = new_loss <= reference_loss + 1e-6
    return dg.AssetCheckResult(
        check_name="beats_deployed",
        passed=passed,
        metadata={
            "new_val_loss": round(new_loss, 4),
            "reference": reference,
            "reference_val_loss": round(reference_loss, 4),
            "delta": round(new_loss - reference_loss, 4),
        },
        description=None
        if passed
        else f"The new model's val loss is {new_loss - reference_loss:.4f} worse than "
        f"{reference}'s; the current model stays deployed.",
    )


def _reference_loss(
    settings: Settings, sequences: list[Scored], threads: int, memo: Memo
) -> tuple[str, float]:
    """The deployed version's val loss in llama.cpp, or the base model's when none comparable."""
    registry = ModelRegistry(settings.registry_dir)
    version = registry.current_version()
    try:
        # A version that holds a forgotten note is no bar: it goes once any successor deploys.
        held = forgotten_versions(registry, settings)
        if (
            version
            and version not in held
            and registry.manifest(version).get("base_model") == settings.base_model
        ):
            path = registry.model_path(version)
            return f"deployed {version}", gguf_mean_nll(
                path, sequences, threads, memo.of(sha256_file(path))
            )
    except (GGUFError, RegistryError, OSError):
        pass  # a broken deployed version is no reference; compare with the base instead
    return "base model", hf_mean_nll(resolve_base_model(settings), sequences)
