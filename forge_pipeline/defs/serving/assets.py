"""deployed_model: the validated GGUF registered as a new version and made current."""

import json

import dagster as dg

from forge_pipeline.defs.resources import ForgeResource
from forge_pipeline.lib.layout import Layout
from forge_pipeline.lib.registry import ModelRegistry


@dg.asset(group_name="serving", kinds={"gguf"}, deps=["gguf_model"])
def deployed_model(context: dg.AssetExecutionContext, forge: ForgeResource) -> dg.MaterializeResult:
    """The model registry's `current` version, swapped atomically; the previous one kept."""
    settings = forge.settings()
    layout = forge.layout()
    registry = ModelRegistry(settings.registry_dir)
    metrics = json.loads(
        Layout.require(layout.adapter / "metrics.json", "lora_adapter").read_text()
    )
    previous = registry.current_version()
    manifest = registry.register(
        Layout.require(layout.gguf, "gguf_model"),
        {
            "source_run_id": context.run_id,
            "base_model": settings.base_model,
            "gguf_type": settings.export.gguf_type,
            "eval_loss": metrics["tuned_eval_loss"],
            "base_eval_loss": metrics["base_eval_loss"],
        },
    )
    registry.activate(manifest["version"])
    pruned = registry.prune(settings.registry.keep_versions)
    return dg.MaterializeResult(
        metadata={
            "version": manifest["version"],
            "previous_version": previous or "",
            "path": dg.MetadataValue.path(str(registry.current_model())),
            "sha256": manifest["sha256"],
            "bytes": manifest["bytes"],
            "eval_loss": manifest["eval_loss"],
            "pruned_versions": len(pruned),
        },
        data_version=dg.DataVersion(manifest["sha256"][:16]),
    )
