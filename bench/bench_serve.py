"""Serving speed: GGUF in llama.cpp vs the merged model in transformers, API vs in-process, reload.

Usage: make bench   (after bench_e2e.py, whose FORGE_HOME this reuses)
Records serve.gguf_q8_vs_hf_ratio, serve.gguf_q4_vs_hf_ratio, serve.api_vs_inprocess_ratio,
serve.reload_s and serve.reload_failed_requests, each ratio measured side by side in one run.
"""

import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import matmul_gflops  # noqa: E402
from results import record  # noqa: E402

from forge_pipeline.serving.idle_threads import SPIN_COUNT_ENV  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
HOME = ROOT / "bench" / "out" / "e2e-home"
COMMAND = "make bench"
PROMPTS = [
    "What did I learn about my mornings this month?",
    "How do I feel about running lately?",
    "What decision am I most unsure about?",
]
MAX_TOKENS = 48  # every answer is made exactly this long: end-of-sequence is banned
THREADS = os.cpu_count() or 1
TOKEN = "bench-admin-token"
ROUNDS = 5
LIBGOMP_DEFAULT_SPINS = "300000"


def hf_tokens_per_s(model_dir: Path) -> float:
    """Greedy generation speed of the merged model in transformers (fp32, CPU)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(THREADS)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    generated, seconds = 0, 0.0
    for prompt in PROMPTS:
        ids = tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}], add_generation_prompt=True, return_tensors="pt"
        )
        ids = ids["input_ids"] if hasattr(ids, "keys") else ids
        started = time.perf_counter()
        with torch.no_grad():
            out = model.generate(
                ids, max_new_tokens=MAX_TOKENS, min_new_tokens=MAX_TOKENS, do_sample=False
            )
        seconds += time.perf_counter() - started
        generated += out.shape[1] - ids.shape[1]
    return generated / seconds


def eos_bias(gguf: Path) -> dict[int, float]:
    """A logit bias that bans the model's end-of-sequence token."""
    from llama_cpp import Llama

    llm = Llama(model_path=str(gguf), n_ctx=64, vocab_only=True, verbose=False)
    eos = llm.token_eos()
    llm.close()
    return {eos: -100.0}


def llama_tokens_per_s(gguf: Path) -> float:
    """Greedy generation speed of a GGUF in llama-cpp-python, in process."""
    from llama_cpp import Llama

    bias = eos_bias(gguf)
    llm = Llama(
        model_path=str(gguf), n_ctx=1024, n_threads=THREADS, n_threads_batch=THREADS, verbose=False
    )
    generated, seconds = 0, 0.0
    for prompt in PROMPTS:
        started = time.perf_counter()
        answer = llm.create_chat_completion(
            messages=[{"role": "user", "content": prompt}],
            max_tokens=MAX_TOKENS,
            temperature=0.0,
            logit_bias=bias,
        )
        seconds += time.perf_counter() - started
        generated += answer["usage"]["completion_tokens"]
    llm.close()
    return generated / seconds


def api_tokens_per_s(url: str, bias: dict[int, float]) -> float:
    """Streamed generation speed through the OpenAI API of `forge serve`."""
    from openai import OpenAI

    client = OpenAI(base_url=f"{url}/v1", api_key="unused")
    generated, seconds = 0, 0.0
    for prompt in PROMPTS:
        started = time.perf_counter()
        stream = client.chat.completions.create(
            model="forge",
            messages=[{"role": "user", "content": prompt}],
            max_tokens=MAX_TOKENS,
            temperature=0.0,
            logit_bias={str(k): v for k, v in bias.items()},
            stream=True,
        )
        finished = [c.choices[0].finish_reason for c in stream if c.choices[0].finish_reason]
        seconds += time.perf_counter() - started
        if finished != ["length"]:
            # A shorter answer would be timed with more of its time in the prompt: not comparable.
            raise RuntimeError(f"the API stopped for {finished}, not at {MAX_TOKENS} tokens")
        generated += MAX_TOKENS  # end-of-sequence is banned: each answer runs to max_tokens
    return generated / seconds


@contextmanager
def serving(extra_env: dict[str, str] | None = None) -> Iterator[str]:
    """`forge serve` on a free loopback port for the benchmark's FORGE_HOME, stopped on leaving."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "FORGE_HOME": str(HOME), "FORGE_ADMIN_TOKEN": TOKEN, **(extra_env or {})}
    server = subprocess.Popen(
        [sys.executable, "-m", "forge_pipeline.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                if requests.get(f"{url}/health", timeout=1).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.2)
        else:
            raise RuntimeError("forge serve did not start")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def reload_seconds(url: str) -> float:
    """Reload the current version once; the server's own timing of load, smoke test and swap."""
    answer = requests.post(
        f"{url}/admin/reload-model",
        json={},
        timeout=120,
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    answer.raise_for_status()
    return answer.json()["reload_s"]


def reload_under_load(url: str, reloads: int = 3) -> tuple[float, int]:
    """Mean reload seconds and failed requests while two clients keep asking."""
    failures, done = [0], threading.Event()

    def ask() -> None:
        deadline = time.monotonic() + 120
        while not done.is_set() and time.monotonic() < deadline:
            try:
                answer = requests.post(
                    f"{url}/v1/chat/completions",
                    timeout=60,
                    json={
                        "model": "forge",
                        "max_tokens": 8,
                        "messages": [{"role": "user", "content": PROMPTS[0]}],
                    },
                )
                failures[0] += not answer.ok
            except requests.RequestException:
                failures[0] += 1

    workers = [threading.Thread(target=ask) for _ in range(2)]
    for worker in workers:
        worker.start()
    times = [reload_seconds(url) for _ in range(reloads)]
    done.set()
    for worker in workers:
        worker.join()
    return sum(times) / len(times), failures[0]


def main() -> None:
    """Measure every serving figure in one session and record them."""
    artifacts = HOME / "artifacts"
    hf = hf_tokens_per_s(artifacts / "merged_model")
    q8 = llama_tokens_per_s(artifacts / "gguf_model" / "model-q8_0.gguf")
    q4 = llama_tokens_per_s(artifacts / "gguf_model" / "model-q4_k_m.gguf")
    note = f"transformers fp32 {hf:.1f} tok/s; {THREADS} threads; {MAX_TOKENS} tokens x 3 prompts"
    record(
        "serve.gguf_q8_vs_hf_ratio", round(q8 / hf, 2), "x", COMMAND, f"q8_0 {q8:.1f} tok/s; {note}"
    )
    record(
        "serve.gguf_q4_vs_hf_ratio",
        round(q4 / hf, 2),
        "x",
        COMMAND,
        f"q4_k_m {q4:.1f} tok/s; {note}",
    )
    gguf = next((HOME / "registry" / "current").glob("model-q8_0.gguf"))
    bias = eos_bias(gguf)
    gflops = matmul_gflops()  # how fast this shared machine runs right now
    with serving() as url:
        # The same server with libgomp's own spin count, which `forge serve` lowers
        # (idle_threads.py); stopped before the reloads are timed.
        with serving({SPIN_COUNT_ENV: LIBGOMP_DEFAULT_SPINS}) as spinning_url:
            # Alternate the three, several rounds, and keep the median ratios: the machine is noisy.
            rounds = [
                (
                    llama_tokens_per_s(gguf),
                    api_tokens_per_s(url, bias),
                    api_tokens_per_s(spinning_url, bias),
                )
                for _ in range(ROUNDS)
            ]
        record(
            "serve.api_vs_inprocess_ratio",
            round(statistics.median(api / inprocess for inprocess, api, _ in rounds), 2),
            "x",
            COMMAND,
            f"median of {ROUNDS} alternating rounds, q8_0, {gflops} GFLOP/s fp32 matmul; "
            "streamed API vs in-process tok/s: "
            + ", ".join(f"{api:.1f}/{inprocess:.1f}" for inprocess, api, _ in rounds)
            + f"; with libgomp's default {LIBGOMP_DEFAULT_SPINS} spins, same rounds: "
            + ", ".join(f"{slow:.1f}" for _, _, slow in rounds)
            + " tok/s (ratio "
            + f"{statistics.median(slow / inprocess for inprocess, _, slow in rounds):.2f})",
        )
        record(
            "serve.reload_idle_s",
            round(reload_seconds(url), 3),
            "s",
            COMMAND,
            "one reload with no request in flight",
        )
        reload_s, failed = reload_under_load(url)
    record(
        "serve.reload_s",
        round(reload_s, 3),
        "s",
        COMMAND,
        "mean of 3 reloads of the current version while 2 clients keep asking",
    )
    record("serve.reload_failed_requests", failed, "requests", COMMAND)


if __name__ == "__main__":
    main()
