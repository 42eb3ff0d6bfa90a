"""merged_model and gguf_model: one full model, then a GGUF that llama.cpp loads and answers."""

import dagster as dg

from forge_pipeline.defs.resources import ForgeResource
from forge_pipeline.lib.artifacts import atomic_file, dir_bytes, sha256_file
from forge_pipeline.lib.base_model import resolve_base_model
from forge_pipeline.lib.gguf_export import GGUFError, convert_to_gguf, validate_gguf
from forge_pipeline.lib.layout import Layout
from forge_pipeline.lib.merge import merge_adapter


@dg.asset(group_name="export", kinds={"safetensors"}, deps=["lora_adapter"])
def merged_model(forge: ForgeResource) -> dg.MaterializeResult:
    """The adapter merged into a full-precision base: safetensors, tokenizer, chat template."""
    settings = forge.settings()
    layout = forge.layout()
    merge_adapter(
        resolve_base_model(settings), Layout.require(layout.adapter, "lora_adapter"), layout.merged
    )
    weights = layout.merged / "model.safetensors"
    sha = sha256_file(weights)
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(layout.merged)),
            "bytes": dir_bytes(layout.merged),
            "sha256": sha,
            "chat_template": (layout.merged / "chat_template.jinja").exists(),
        },
        data_version=dg.DataVersion(sha[:16]),
    )


@dg.asset(group_name="export", kinds={"gguf", "llama_cpp"}, deps=["merged_model"])
def gguf_model(forge: ForgeResource) -> dg.MaterializeResult:
    """GGUF by llama.cpp's converter, kept only if llama.cpp loads it and answers a chat."""
    settings = forge.settings()
    layout = forge.layout()
    merged = Layout.require(layout.merged, "merged_model")
    with atomic_file(layout.gguf) as candidate:
        convert_to_gguf(merged, candidate, settings.export.gguf_type, settings.tools_dir)
        try:
            check = validate_gguf(
                candidate, settings.smoke_prompt, settings.system_prompt, settings.training.threads
            )
        except GGUFError as exc:
            raise dg.Failure(description=f"The exported GGUF failed validation: {exc}") from exc
    sha = sha256_file(layout.gguf)
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(layout.gguf)),
            "type": settings.export.gguf_type,
            "bytes": layout.gguf.stat().st_size,
            "sha256": sha,
            "architecture": check.architecture,
            "chat_template_embedded": check.chat_template,
            "load_seconds": check.load_seconds,
            "tokens_per_s": check.tokens_per_s,
            "prompt": settings.smoke_prompt,
            "reply": dg.MetadataValue.text(check.reply),
        },
        data_version=dg.DataVersion(sha[:16]),
    )
