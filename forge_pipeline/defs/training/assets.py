"""lora_adapter: LoRA fine-tune run by the Dagster-free trainer through Pipes."""

import json
import os
import sys
from dataclasses import asdict

import dagster as dg

from forge_pipeline.defs.resources import ForgeResource, HardwareResource
from forge_pipeline.lib.artifacts import atomic_dir, sha256_dir
from forge_pipeline.lib.base_model import resolve_base_model
from forge_pipeline.lib.layout import Layout
from forge_pipeline.lib.tables import markdown_table
from forge_pipeline.training.train_lora import TrainConfig


@dg.asset(
    group_name="training",
    kinds={"pytorch", "peft"},
    deps=["curated_dataset"],
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
) -> dg.MaterializeResult:
    """A LoRA adapter trained on the curated set; precision chosen from the hardware."""
    settings = forge.settings()
    layout = Layout(settings)
    machine = hardware.detect()
    knobs = settings.training
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
        )
        context.log.info(f"Training on {machine.architecture} with {json.dumps(asdict(config))}")
        pipes_subprocess_client.run(
            command=[sys.executable, "-m", "forge_pipeline.training.train_lora"],
            context=context,
            extras={"train_config": asdict(config)},
            env={**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1"},
        )
        metrics = json.loads((out / "metrics.json").read_text())
    improved = metrics["tuned_eval_loss"] < metrics["base_eval_loss"]
    curve = metrics.pop("loss_curve")
    return dg.MaterializeResult(
        metadata={
            **metrics,
            "path": dg.MetadataValue.path(str(layout.adapter)),
            "base_model": config.base_model,
            "architecture": machine.architecture,
            "loss_curve": dg.MetadataValue.md(
                markdown_table(["step", "train loss"], enumerate(curve, start=1), limit=200)
            ),
            "sha256": sha256_dir(layout.adapter),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="tuned_beats_base",
                passed=improved,
                metadata={
                    "base_eval_loss": metrics["base_eval_loss"],
                    "tuned_eval_loss": metrics["tuned_eval_loss"],
                    "delta": round(metrics["tuned_eval_loss"] - metrics["base_eval_loss"], 4),
                },
                description=None
                if improved
                else "Training did not lower the eval loss; "
                "the model is not deployed. Try more steps or a lower learning rate.",
            )
        ],
    )
