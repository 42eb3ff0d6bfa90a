"""The training plan from hardware and data, and `forge detect` / `forge plan` on this machine.

Does not touch: Dagster, models.
"""

from typer.testing import CliRunner

from forge_pipeline.cli import app
from forge_pipeline.lib.core.config import Training
from forge_pipeline.lib.training.hardware import Hardware, cpu_only
from forge_pipeline.lib.training.plan import make_plan, run_length


def gpu(vram: float, compute: float) -> Hardware:
    return Hardware(1, "Test GPU", vram, vram, compute, "560", 16)


def test_cpu_plan_is_fp32_full_precision_and_sized_by_the_data():
    plan = make_plan(cpu_only(), Training(), tokens_p95=90)
    assert plan.knobs() == {
        "batch_size": 4,
        "grad_accum": 1,
        "max_length": 128,
        "precision": "fp32",
        "gradient_checkpointing": False,
        "load_in_4bit": False,
    }
    assert make_plan(cpu_only(), Training(), tokens_p95=None).max_length == 256
    assert "135M" in plan.recommended_model


def test_small_turing_card_gets_4bit_checkpointing_and_fp16():
    plan = make_plan(gpu(6, 7.5), Training(), tokens_p95=300)
    assert (plan.batch_size, plan.grad_accum, plan.max_length) == (2, 8, 512)
    assert plan.precision == "fp16" and plan.gradient_checkpointing and plan.load_in_4bit


def test_big_ada_card_gets_bf16_and_a_larger_model():
    plan = make_plan(gpu(24, 8.9), Training(), tokens_p95=200)
    assert (plan.batch_size, plan.grad_accum, plan.precision) == (8, 2, "bf16")
    assert not plan.load_in_4bit and "3B" in plan.recommended_model


def test_settings_override_the_plan_and_say_so():
    plan = make_plan(cpu_only(), Training(batch_size=2, load_in_4bit=True), tokens_p95=90)
    assert plan.batch_size == 2 and ("batch_size", "2", "forge.yaml") in plan.rows()
    assert plan.load_in_4bit is False  # never on a CPU


def test_detect_and_plan_commands_on_this_machine():
    runner = CliRunner()
    detected = runner.invoke(app, ["detect"])
    assert detected.exit_code == 0 and "cpu" in detected.output
    planned = runner.invoke(app, ["plan", "A companion for my reflections"])
    assert planned.exit_code == 0
    assert "batch_size" in planned.output and "A companion for my reflections" in planned.output


def test_training_is_sized_by_epochs_and_the_data():
    length = run_length(Training(epochs=3, time_budget_min=30), 812, 4)
    assert (length.steps, length.checkpoint_every, length.time_budget_s) == (609, 60, 1800)
    assert length.reason == "812 examples × 3 epochs / batch 4 = 609 steps; time budget 30 min"
    assert length.outcome(4.0, 445) == (
        f"{length.reason}; measured 4.00 s/step ≈ 41 min here; budget 30 min → 445 steps"
    )
    assert length.outcome(None, None) == length.reason
    small = run_length(Training(epochs=1, time_budget_min=0), 10, 16)
    assert (small.steps, small.checkpoint_every, small.time_budget_s) == (1, 5, 0)


def test_max_steps_and_checkpoints_from_forge_yaml_win():
    length = run_length(Training(max_steps=40, checkpoint_every=10), 200, 4)
    assert (length.steps, length.checkpoint_every) == (40, 10)
    assert length.reason.startswith("max_steps 40 from forge.yaml (0.8 epochs of 200)")
