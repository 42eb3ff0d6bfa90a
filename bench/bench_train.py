"""Trainer throughput beside a naive baseline, its share of the machine's matmul rate, and the
steps a killed run loses on resume; the default model on the sample vault's curated set.

Usage: make bench   (or .venv/bin/python bench/bench_train.py)
Records: train.baseline_ratio (Forge's trainer real tokens/s over a plain transformers Trainer +
PEFT that pads to max_length and takes the loss on every token: same model, data, batch, steps
and threads, alternated in one run), train.length_grouped_ratio (Forge with length-grouped
batches over Forge with random ones, alternated), train.mfu (model FLOPs of the real tokens
trained per second over machine.matmul_gflops measured beside it), train.mfu_real_work (the same,
counting only the work done: the LM head runs on answer tokens alone), train.resume_lost_steps
(steps run again after a kill -9 just before a checkpoint). Every run is one epoch, so each sees
every example whatever order its batches come in.
"""

import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import fresh_forge_home, matmul_gflops  # noqa: E402
from results import record  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
COMMAND = "make bench"
ROUNDS = 2
THREADS = 2
UPSTREAM = "vault_notes,reflection_examples,dataset_examples,curated_dataset"


def curated_set(home: Path) -> dict[str, str]:
    """Materialize the sample vault's curated set into a fresh FORGE_HOME; its environment."""
    env = fresh_forge_home(home)
    dagster = str(Path(sys.executable).parent / "dagster")
    subprocess.run(
        [dagster, "asset", "materialize", "-m", "forge_pipeline.definitions", "--select", UPSTREAM],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return env


def forge_config(env: dict[str, str], out: Path):
    """The trainer's config for the default model, with the plan this machine gets."""
    os.environ.update({k: env[k] for k in ("FORGE_HOME", "FORGE_CACHE_DIR")})
    from forge_pipeline.lib.core.base_model import resolve_base_model
    from forge_pipeline.lib.core.config import load_settings
    from forge_pipeline.lib.core.jsonl import count_lines
    from forge_pipeline.lib.core.layout import Layout
    from forge_pipeline.lib.training.hardware import detect_hardware
    from forge_pipeline.lib.training.plan import RunLength, make_plan
    from forge_pipeline.training.train_config import train_config

    settings = load_settings()
    layout = Layout(settings)
    plan = make_plan(detect_hardware(), settings.training, layout.tokens_p95())
    knobs = {**plan.knobs(), "learning_rate": settings.training.learning_rate}
    epoch = math.ceil(count_lines(layout.train) / (plan.batch_size * plan.grad_accum))
    length = RunLength(epoch, checkpoint_every=10, time_budget_s=0, reason="one epoch")
    config = train_config(settings, resolve_base_model(settings), layout, out, length, knobs)
    return replace(config, threads=THREADS)


def run_forge(cfg) -> dict:
    """Forge's trainer in its own process; its metrics."""
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config.json"
        config.write_text(json.dumps(asdict(replace(cfg, output_dir=tmp + "/out"))))
        done = subprocess.run(
            [sys.executable, "-m", "forge_pipeline.training.train_lora", "--config", str(config)],
            capture_output=True,
            text=True,
            check=True,
        )
    return json.loads(done.stdout[done.stdout.index("{\n") :])


def run_baseline(cfg) -> dict:
    """The naive baseline in its own process; real tokens/s."""
    done = subprocess.run(
        [sys.executable, __file__, "--baseline", json.dumps(asdict(cfg))],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def baseline(cfg: dict) -> dict:
    """Plain transformers Trainer + PEFT: padded to max_length, loss on every token."""
    import torch
    from datasets import Dataset
    from peft import LoraConfig, get_peft_model
    from transformers import (
        AutoModelForCausalLM,
        AutoTokenizer,
        DataCollatorForLanguageModeling,
        Trainer,
        TrainingArguments,
    )

    torch.set_num_threads(cfg["threads"])
    torch.manual_seed(cfg["seed"])
    tokenizer = AutoTokenizer.from_pretrained(cfg["base_model"])
    tokenizer.pad_token = tokenizer.pad_token or tokenizer.eos_token
    rows = [json.loads(line) for line in Path(cfg["train_file"]).read_text().splitlines()]
    texts = [tokenizer.apply_chat_template(r["messages"], tokenize=False) for r in rows]
    encoded = tokenizer(texts, padding="max_length", truncation=True, max_length=cfg["max_length"])
    model = AutoModelForCausalLM.from_pretrained(cfg["base_model"], dtype=torch.float32)
    targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    lora = LoraConfig(
        r=cfg["lora_r"], lora_alpha=cfg["lora_alpha"], target_modules=targets, task_type="CAUSAL_LM"
    )
    with tempfile.TemporaryDirectory() as tmp:
        args = TrainingArguments(
            output_dir=tmp,
            max_steps=cfg["max_steps"],
            per_device_train_batch_size=cfg["batch_size"],
            gradient_accumulation_steps=cfg["grad_accum"],
            learning_rate=cfg["learning_rate"],
            save_strategy="no",
            report_to=[],
            use_cpu=True,
            bf16=False,
            seed=cfg["seed"],
            include_num_input_tokens_seen="non_padding",
        )
        trainer = Trainer(
            model=get_peft_model(model, lora),
            args=args,
            train_dataset=Dataset.from_dict(dict(encoded)),
            data_collator=DataCollatorForLanguageModeling(tokenizer, mlm=False),
        )
        started = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - started
    tokens = int(trainer.state.num_input_tokens_seen)
    return {"tokens_per_s": round(tokens / seconds, 1), "train_seconds": round(seconds, 1)}


def lost_on_resume(cfg, every: int = 4) -> tuple[int, int, int]:
    """Kill -9 the trainer one step before a checkpoint, run it again; (killed, resumed, lost)."""
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config.json"
        resumable = replace(
            cfg, output_dir=tmp + "/out", checkpoint_dir=tmp + "/ckpt", checkpoint_every=every
        )
        config.write_text(json.dumps(asdict(resumable)))
        command = [sys.executable, "-m", "forge_pipeline.training.train_lora", "--config"]
        first = subprocess.Popen([*command, str(config)], stdout=subprocess.PIPE, text=True)
        killed_at = 0
        for line in first.stdout or []:
            if line.startswith("{") and '"step"' in line:
                killed_at = json.loads(line)["step"]
                if killed_at >= 2 * every - 1:
                    first.send_signal(signal.SIGKILL)
                    break
        first.wait()
        again = subprocess.run([*command, str(config)], capture_output=True, text=True, check=True)
        metrics = json.loads(again.stdout[again.stdout.index("{\n") :])
    resumed = metrics["resumed_from_step"]
    return killed_at, resumed, killed_at - resumed


def model_flops_per_token(model_dir: str) -> tuple[float, float]:
    """LoRA on a frozen base: forward 2N and the activations' backward 2N per token (no weight
    gradients for the base; the adapters' own are negligible); and the LM head's share of it."""
    from safetensors import safe_open

    params = 0
    for file in Path(model_dir).glob("*.safetensors"):
        with safe_open(str(file), "pt") as tensors:
            params += sum(math.prod(tensors.get_slice(k).get_shape()) for k in tensors.keys())
    config = json.loads((Path(model_dir) / "config.json").read_text())
    return 4.0 * params, 4.0 * config["vocab_size"] * config["hidden_size"]


def main() -> None:
    import torch

    torch.set_num_threads(THREADS)
    env = curated_set(ROOT / "bench" / "out" / "train-home")
    cfg = forge_config(env, ROOT / "bench" / "out" / "train-home" / "scratch")
    gflops = [matmul_gflops()]
    ours, ungrouped, naive = [], [], []
    labelled_share = []
    for _ in range(ROUNDS):  # alternated: the machine's noise hits every variant alike
        metrics = run_forge(cfg)
        ours.append(metrics["tokens_per_s"])
        labelled_share.append(metrics["labelled_tokens_trained"] / metrics["tokens_seen"])
        ungrouped.append(run_forge(replace(cfg, length_grouped=False))["tokens_per_s"])
        naive.append(run_baseline(cfg)["tokens_per_s"])
        gflops.append(matmul_gflops())
    setup = (
        f"SmolLM2-135M LoRA r{cfg.lora_r}, batch {cfg.batch_size}, max_length {cfg.max_length}, "
        f"{cfg.max_steps} steps (one epoch), {THREADS} threads"
    )
    ratio = round(sum(ours) / sum(naive), 2)
    note = f"{setup}; Forge {ours} vs baseline {naive} real tokens/s"
    record("train.baseline_ratio", ratio, "x", COMMAND, note)
    grouped = round(sum(ours) / sum(ungrouped), 2)
    note = f"{setup}; length-grouped {ours} vs random batches {ungrouped} real tokens/s"
    record("train.length_grouped_ratio", grouped, "x", COMMAND, note)
    rate = sum(gflops) / len(gflops)
    per_token, head = model_flops_per_token(cfg.base_model)
    tokens_per_s = sum(ours) / len(ours)
    achieved = per_token * tokens_per_s / 1e9
    # Forge runs the LM head only on answer tokens: the work it actually does is less.
    share = sum(labelled_share) / len(labelled_share)
    done = (per_token - head * (1 - share)) * tokens_per_s / 1e9
    record(
        "train.mfu",
        round(achieved / rate, 3),
        "share",
        COMMAND,
        f"{achieved:.1f} GFLOP/s of model work (4 x params x real tokens/s) over {rate:.1f} "
        f"GFLOP/s fp32 matmul on {THREADS} threads measured between the runs",
    )
    record(
        "train.mfu_real_work",
        round(done / rate, 3),
        "share",
        COMMAND,
        f"as train.mfu, counting the LM head only on the {share:.0%} of tokens that are answers "
        f"(the only ones it runs on): {done:.1f} GFLOP/s over {rate:.1f}",
    )
    killed, resumed, lost = lost_on_resume(cfg)
    record(
        "train.resume_lost_steps",
        lost,
        "steps",
        COMMAND,
        f"killed at step {killed}, resumed from checkpoint {resumed} (every 4 steps)",
    )


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--baseline":
        print(json.dumps(baseline(json.loads(sys.argv[2]))))
    else:
        main()
