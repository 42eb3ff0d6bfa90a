"""lora_adapter: LoRA fine-tune run by the Dagster-free trainer through Pipes."""

import hashlib
import json
import os
import shutil
import sys
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import dagster as dg

from forge_pipeline.defs.resources import ForgeResource, HardwareResource
from forge_pipeline.lib.artifacts import atomic_dir, sha256_dir
from forge_pipeline.lib.base_model import resolve_base_model
from forge_pipeline.lib.config import Settings
from forge_pipeline.lib.layout import Layout
from forge_pipeline.lib.tables import markdown_table
from forge_pipeline.training.train_lora import TrainConfig


@dg.asset(
    group_name="training",
    kinds={"pytorch", "peft"},
    deps=["curated_dataset"],
    output_required=False,
    check_specs=[
        dg.AssetCheckSpec(
            "tuned_beats_base",
            asset="lora_adapter",
            blocking=True,
            description="The tuned model's eval loss is below the base model's.",
        ),
    ],
)
def lora_adapter(
    context: dg.AssetExecutionContext,
    forge: ForgeResource,
    hardware: HardwareResource,
    pipes_subprocess_client: dg.PipesSubprocessClient,
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    """A LoRA adapter trained on the curated set; skipped when nothing it depends on changed."""
    settings = forge.settings()
    layout = Layout(settings)
    machine = hardware.detect()
    knobs = settings.training
    Layout.require(layout.train, "curated_dataset")
    inputs = training_inputs(layout.dataset_version(), settings, machine.precision)
    last, last_run = _last_adapter(context)
    if (
        last.get("inputs_fingerprint") == inputs
        and (layout.adapter / "adapter_config.json").exists()
    ):
        # No materialization: Dagster skips (not fails) every asset after this one in the run.
        # The check still reports, on the adapter that stays current.
        context.log.info(
            f"Curated set and training settings unchanged since run {last_run}; "
            "skipping training, export and deploy."
        )
        yield _beats_base(last["base_eval_loss"], last["tuned_eval_loss"], unchanged_since=last_run)
        return
    checkpoints = layout.checkpoints / inputs
    _drop_stale_checkpoints(layout.checkpoints, keep=checkpoints)
    with atomic_dir(layout.adapter) as out:
        config = TrainConfig(
            base_model=resolve_base_model(settings),
            train_file=str(Layout.require(layout.train, "curated_dataset")),
            val_file=str(Layout.require(layout.val, "curated_dataset")),
            output_dir=str(out),
            max_steps=knobs.max_steps,
            batch_size=knobs.batch_size,
            grad_accum=knobs.grad_accum,
            learning_rate=knobs.learning_rate,
            lora_r=knobs.lora_r,
            lora_alpha=knobs.lora_alpha,
            max_length=knobs.max_length,
            precision=machine.precision,
            threads=knobs.threads,
            seed=knobs.seed,
            checkpoint_dir=str(checkpoints),
            checkpoint_every=knobs.checkpoint_every,
        )
        context.log.info(f"Training on {machine.architecture} with {json.dumps(asdict(config))}")
        pipes_subprocess_client.run(
            command=[sys.executable, "-m", "forge_pipeline.training.train_lora"],
            context=context,
            extras={"train_config": asdict(config)},
            env={**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1"},
        )
        metrics = json.loads((out / "metrics.json").read_text())
    curve = metrics.pop("loss_curve")
    yield dg.MaterializeResult(
        metadata={
            **metrics,
            "inputs_fingerprint": inputs,
            "path": dg.MetadataValue.path(str(layout.adapter)),
            "base_model": config.base_model,
            "architecture": machine.architecture,
            "loss_curve": dg.MetadataValue.md(
                markdown_table(["step", "train loss"], enumerate(curve, start=1), limit=200)
            ),
            "sha256": sha256_dir(layout.adapter),
        },
        check_results=[_beats_base(metrics["base_eval_loss"], metrics["tuned_eval_loss"])],
    )


def _beats_base(
    base_loss: float, tuned_loss: float, unchanged_since: str | None = None
) -> dg.AssetCheckResult:
    improved = tuned_loss < base_loss
    return dg.AssetCheckResult(
        check_name="tuned_beats_base",
        passed=improved,
        metadata={
            "base_eval_loss": base_loss,
            "tuned_eval_loss": tuned_loss,
            "delta": round(tuned_loss - base_loss, 4),
            **({"unchanged_since_run": unchanged_since} if unchanged_since else {}),
        },
        description=None
        if improved
        else "Training did not lower the eval loss; "
        "the model is not deployed. Try more steps or a lower learning rate.",
    )


def training_inputs(dataset_version: str, settings: Settings, precision: str) -> str:
    """A fingerprint of everything training depends on: data, settings, base model, precision."""
    parts = [dataset_version, settings.training.model_dump(), settings.base_model, precision]
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def _last_adapter(context: dg.AssetExecutionContext) -> tuple[dict, str | None]:
    """The plain metadata and run id of the last adapter materialized, if any."""
    event = context.instance.get_latest_materialization_event(context.asset_key)
    if event is None or event.asset_materialization is None:
        return {}, None
    metadata = event.asset_materialization.metadata
    return {k: getattr(v, "value", v) for k, v in metadata.items()}, event.run_id


def _drop_stale_checkpoints(root: Path, keep: Path) -> None:
    """Checkpoints of other data or settings can never be resumed: remove them."""
    if root.is_dir():
        for folder in root.iterdir():
            if folder != keep:
                shutil.rmtree(folder, ignore_errors=True)
