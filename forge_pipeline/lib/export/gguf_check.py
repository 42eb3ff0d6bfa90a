"""Validate a GGUF before anything serves it: header, type, template, load, reply, perplexity."""

import math
import os
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from forge_pipeline.lib.core import chat
from forge_pipeline.lib.core.memo import call_key, remembered
from forge_pipeline.lib.core.tokens import token_ids

GGUF_MAGIC = b"GGUF"
# Allowed perplexity ratio (GGUF in llama.cpp / merged model in transformers) per type.
PERPLEXITY_MARGINS = {"f32": 1.01, "f16": 1.02, "bf16": 1.03, "q8_0": 1.05, "q4_k_m": 1.35}


class GGUFError(RuntimeError):
    """A GGUF file is unusable; the message says why."""


@dataclass
class Inspection:
    """What a GGUF's header says, read without loading the model."""

    general_type: str
    architecture: str
    chat_template: str
    eos_token: str


@dataclass
class Validation:
    """What loading a GGUF and chatting with it showed."""

    architecture: str
    chat_template: bool
    reply: str
    tokens_per_s: float
    load_seconds: float


def inspect_gguf(path: Path) -> Inspection:
    """Read header fields; refuse non-GGUF files, adapters and files without a chat template."""
    if not path.is_file():
        raise GGUFError(f"{path} does not exist.")
    try:
        fields = read_gguf_header(path)
    except (ValueError, EOFError, struct.error, UnicodeDecodeError) as exc:
        raise GGUFError(f"{path} is a damaged GGUF ({exc}); re-run the export.") from exc
    general_type = str(fields.get("general.type", "model"))
    if general_type != "model":
        raise GGUFError(
            f"{path} is a GGUF of type {general_type!r}, not a model; "
            "point at a model GGUF from the registry."
        )
    template = str(fields.get("tokenizer.chat_template", ""))
    if not template:
        raise GGUFError(f"{path} has no chat template; it would answer in the wrong format.")
    tokens = fields.get("tokenizer.ggml.tokens")
    eos_id = fields.get("tokenizer.ggml.eos_token_id")
    eos = ""
    if isinstance(tokens, list) and isinstance(eos_id, int) and eos_id < len(tokens):
        eos = str(tokens[eos_id])
    return Inspection(general_type, str(fields.get("general.architecture", "")), template, eos)


# llama.cpp writes arrays of scalars or strings; nothing real nests, so deeper is an attack.
MAX_ARRAY_DEPTH = 4
# GGUF value types: id -> struct format (8 = string, 9 = array, handled apart).
_SCALARS = {
    0: "B",
    1: "b",
    2: "H",
    3: "h",
    4: "I",
    5: "i",
    6: "f",
    7: "?",
    10: "Q",
    11: "q",
    12: "d",
}


def read_gguf_header(path: Path) -> dict[str, object]:
    """The key-value metadata of a GGUF file, read without loading tensors (fast)."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        if handle.read(4) != GGUF_MAGIC:
            raise GGUFError(f"{path} is not a GGUF file (bad magic); re-run the export.")

        def take(fmt: str):
            data = handle.read(struct.calcsize(fmt))
            if len(data) != struct.calcsize(fmt):
                raise EOFError("file ends inside the header")
            return struct.unpack("<" + fmt, data)[0]

        def text() -> str:
            length = take("Q")
            if length > size:
                raise ValueError("string length past the end of the file")
            return handle.read(length).decode("utf-8")

        def value(kind: int, depth: int = 0):
            if kind in _SCALARS:
                return take(_SCALARS[kind])
            if kind == 8:
                return text()
            if kind == 9:
                if depth >= MAX_ARRAY_DEPTH:
                    raise ValueError(f"arrays nested deeper than {MAX_ARRAY_DEPTH} levels")
                item_kind, count = take("I"), take("Q")
                if count > size:
                    raise ValueError("array length past the end of the file")
                return [value(item_kind, depth + 1) for _ in range(count)]
            raise ValueError(f"unknown value type {kind}")

        take("I")  # version
        take("Q")  # tensor count
        return {text(): value(take("I")) for _ in range(take("Q"))}


def load_llama(path: Path, threads: int = 0, n_ctx: int = 1024, logits_all: bool = False):
    """Load a GGUF in llama.cpp after inspecting it; a load failure is a GGUFError."""
    from llama_cpp import Llama

    inspect_gguf(path)
    threads = threads or os.cpu_count() or 1
    try:
        return Llama(
            model_path=str(path),
            n_ctx=n_ctx,
            n_threads=threads,
            n_threads_batch=threads,
            logits_all=logits_all,
            verbose=False,
            seed=0,
        )
    except ValueError as exc:
        raise GGUFError(f"llama.cpp cannot load {path} ({exc}); re-run the export.") from exc


REPLY_TOKENS = 64  # enough to see that a model answers in words


class _EndAfter:
    """A logits processor that leaves only the end-of-generation token after max_tokens."""

    def __init__(self, eos: int, max_tokens: int):
        self.eos, self.max_tokens, self.start = eos, max_tokens, -1

    def __call__(self, input_ids, scores):
        if self.start < 0:
            self.start = len(input_ids)  # the first call sees the prompt alone
        if len(input_ids) - self.start >= self.max_tokens:
            scores[:] = -math.inf
            scores[self.eos] = 0.0
        return scores


def token_cap(llm, max_tokens: int):
    """Logits processors that end a reply after max_tokens tokens, whatever those tokens are.

    llama-cpp-python skips its own max_tokens check while a reply ends inside a UTF-8
    character, so a model stuck on such bytes fills the context and fails to decode.
    """
    from llama_cpp import LogitsProcessorList

    return LogitsProcessorList([_EndAfter(llm.token_eos(), max_tokens)])


def validate_gguf(path: Path, prompt: str, system: str, threads: int = 0) -> Validation:
    """Load the GGUF in llama.cpp and answer one prompt with the file's own chat template."""
    started = time.perf_counter()
    llm = load_llama(path, threads)
    load_seconds = time.perf_counter() - started
    try:
        started = time.perf_counter()
        answer = llm.create_chat_completion(
            messages=[{"role": "system", "content": system}, {"role": "user", "content": prompt}],
            max_tokens=REPLY_TOKENS,
            temperature=0.0,
            logits_processor=token_cap(llm, REPLY_TOKENS),
        )
        seconds = time.perf_counter() - started
    finally:
        architecture = str(llm.metadata.get("general.architecture", ""))
        has_template = bool(llm.metadata.get("tokenizer.chat_template"))
        llm.close()
    assert isinstance(answer, dict)  # not streamed, so one response
    reply = (answer["choices"][0]["message"]["content"] or "").strip()
    tokens = answer["usage"]["completion_tokens"]
    return Validation(
        architecture,
        has_template,
        reply,
        round(tokens / max(seconds, 1e-9), 1),
        round(load_seconds, 2),
    )


class Scored(NamedTuple):
    """Token ids and the index of the first one scored (the answer's first token)."""

    ids: list[int]
    start: int


def gguf_mean_nll(
    path: Path, sequences: Sequence[Scored], threads: int = 0, memo: dict | None = None
) -> float:
    """Mean negative log-likelihood of the scored tokens under a GGUF, in llama.cpp. With a
    memo (this model's), sequences scored on an earlier run are read from it, and it is left
    holding these."""
    keys = [call_key(s.ids, s.start) for s in sequences]
    calls = dict(zip(keys, sequences, strict=True))
    found = remembered(memo, calls, _is_sum, lambda todo: _nll_sums(path, todo, threads))
    return sum(found[k][0] for k in keys) / max(sum(found[k][1] for k in keys), 1)


def _is_sum(found: object) -> bool:
    return isinstance(found, list | tuple) and len(found) == 2


def _nll_sums(path: Path, sequences: Sequence[Scored], threads: int) -> list[tuple[float, int]]:
    """Each sequence's summed NLL over its scored tokens, and how many were scored."""
    import numpy as np

    longest = max(len(s.ids) for s in sequences)
    llm = load_llama(path, threads, n_ctx=longest + 8, logits_all=True)
    sums = []
    try:
        for ids, start in sequences:
            llm.reset()
            llm.eval(list(ids))
            # Row i of the scores predicts token i + 1.
            logits = np.asarray(llm.scores[start - 1 : len(ids) - 1], dtype=np.float64)
            peak = logits.max(axis=1, keepdims=True)
            log_norm = peak[:, 0] + np.log(np.exp(logits - peak).sum(axis=1))
            targets = np.asarray(ids[start:])
            sums.append(
                (float((log_norm - logits[np.arange(len(targets)), targets]).sum()), len(targets))
            )
    finally:
        llm.close()
    return sums


def hf_mean_nll(model_dir: str | Path, sequences: Sequence[Scored]) -> float:
    """The same figure for a Hugging Face model folder, in transformers (fp32)."""
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for ids, start in sequences:
            tensor = torch.tensor([list(ids)])
            logits = model(tensor).logits[0, start - 1 : -1].double()
            nll = torch.nn.functional.cross_entropy(logits, tensor[0, start:], reduction="sum")
            total += float(nll)
            count += len(ids) - start
    return total / max(count, 1)


def perplexity(mean_nll: float) -> float:
    """exp(mean NLL), rounded for metadata."""
    return round(math.exp(min(mean_nll, 50.0)), 4)


def val_sequences(model_dir: Path, examples: Sequence[dict], max_length: int) -> list[Scored]:
    """Chat-templated token ids of val examples, scored on the answer (what training optimizes)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    sequences = []
    for example in examples:
        full = token_ids(tokenizer.apply_chat_template(example["messages"], tokenize=True))
        prompt = token_ids(
            tokenizer.apply_chat_template(
                chat.prompt_turns(example), tokenize=True, add_generation_prompt=True
            )
        )
        ids = full[:max_length]
        if len(prompt) < len(ids):
            sequences.append(Scored(ids, max(1, len(prompt))))
    if not sequences:
        raise GGUFError("The val set is empty; perplexity cannot be checked. Add reflections.")
    return sequences
