"""deployed_model: the validated GGUFs registered as a new version, made current, served."""

import json

import dagster as dg

from forge_pipeline.defs.resources import ForgeResource, ModelServerResource
from forge_pipeline.lib.core.artifacts import sha256_dir
from forge_pipeline.lib.core.config import Settings
from forge_pipeline.lib.core.layout import Layout
from forge_pipeline.lib.core.run_lock import one_at_a_time
from forge_pipeline.serving.client import ServerError
from forge_pipeline.serving.provenance import provenance, remove_forgotten, summary
from forge_pipeline.serving.registry import ModelRegistry


@dg.asset(group_name="serving", kinds={"gguf", "ollama"}, deps=["model_evaluation"])
def deployed_model(
    context: dg.AssetExecutionContext, forge: ForgeResource, model_server: ModelServerResource
) -> dg.MaterializeResult:
    """The registry's `current` version, swapped atomically, then hot-reloaded into the server."""
    settings, layout = forge.settings(), forge.layout()
    registry = ModelRegistry(settings.registry_dir)
    metrics = json.loads(
        Layout.require(layout.adapter / "metrics.json", "lora_adapter").read_text()
    )
    files = sorted(Layout.require(layout.gguf_dir, "gguf_model").glob("model-*.*"))
    evaluation = {k: metrics[k] for k in ("tuned_eval_loss", "base_eval_loss")}
    evaluation |= json.loads(Layout.require(layout.evaluation, "model_evaluation").read_text())
    made_of = provenance(layout, settings, evaluation)
    deploying = f"run {context.run_id}'s deploy"
    with one_at_a_time(settings.home / "locks" / "deploy.lock", deploying, context.log.info):
        previous = registry.current_version()
        manifest = registry.register(
            files,
            serve_file=layout.gguf(settings.export.serve_type).name,
            info={
                "source_run_id": context.run_id,
                "base_model": settings.base_model,
                "dataset_version": layout.dataset_version(),
                "eval_loss": metrics["tuned_eval_loss"],
                "base_eval_loss": metrics["base_eval_loss"],
                "adapter_sha256": sha256_dir(layout.adapter),  # a warm start checks what serves
                "provenance": made_of,
            },
        )
        registry.activate(manifest["version"])
        forgotten = remove_forgotten(registry, settings)
        if forgotten.deleted:
            context.log.info(
                f"Deleted {', '.join(forgotten.deleted)}: trained on notes in "
                f"{settings.curation.forget_file.name}."
            )
        pruned = registry.prune(settings.registry.keep_versions)
        server = _reload_server(context, model_server, settings, manifest["version"])
    served = manifest["files"][manifest["serve_file"]]
    return dg.MaterializeResult(
        metadata={
            "version": manifest["version"],
            "previous_version": previous or "",
            "path": dg.MetadataValue.path(str(registry.current_model())),
            "files": len(manifest["files"]),
            "sha256": served["sha256"],
            "bytes": served["bytes"],
            "eval_loss": manifest["eval_loss"],
            "pruned_versions": len(pruned),
            "deleted_as_forgotten": ", ".join(forgotten.deleted),
            **{f"made_of_{key}": value for key, value in summary(manifest).items()},
            **server,
        },
        data_version=dg.DataVersion(served["sha256"][:16]),
    )


def _reload_server(
    context: dg.AssetExecutionContext,
    model_server: ModelServerResource,
    settings: Settings,
    version: str,
) -> dict[str, str | int | float | dg.MetadataValue]:
    """Reload a running server and smoke-test it; a server that is down is not an error."""
    client = model_server.client(settings)
    if not client.is_up():
        return {"server": f"not running at {client.base_url}"}
    try:
        answer = client.reload(version)
        reply, seconds = client.chat([{"role": "user", "content": settings.smoke_prompt}])
    except ServerError as exc:
        context.log.warning(
            f"{version} is deployed, but the server at {client.base_url} did not confirm it "
            f"({exc}); restart `forge serve` to serve it."
        )
        return {"server": f"reload failed: {exc}"}
    return {
        "server": client.base_url,
        "reload_s": answer["reload_s"],
        "server_reply": dg.MetadataValue.text(reply),
        "server_reply_s": round(seconds, 2),
    }
