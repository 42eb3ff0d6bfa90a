"""Generation for evaluation in llama.cpp: answers to questions, and greedy recall of answers."""

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from forge_pipeline.lib.core import chat
from forge_pipeline.lib.core.memo import call_key, remembered
from forge_pipeline.lib.evaluation.figures import Reply, verbatim_run
from forge_pipeline.lib.export.gguf_check import load_llama, token_cap


@dataclass
class Recall:
    """How much of one training answer the model said word for word, given its opening."""

    example_id: str
    verbatim: int  # the longest run of the true continuation's tokens said in a row
    compared: int  # tokens of the true continuation compared
    text: str  # what the model said after the opening


def answers(
    path: Path,
    system: str,
    questions: Sequence[str],
    max_tokens: int,
    threads: int,
    temperature: float = 0.0,
    memo: dict[str, Any] | None = None,
) -> list[Reply]:
    """Answers of one GGUF to each question through its own chat template, sampled with a
    seed of the question's own (the same on every run and for every model; a question asked
    again, as template prompts are, gets the next seed). With a memo (this model's), answers
    given on an earlier run are read from it, and it is left holding these."""
    seen: Counter[str] = Counter()
    asked = []
    for question in questions:
        asked.append((question, seen[question]))
        seen[question] += 1
    keys = [call_key(system, *pair, max_tokens, temperature) for pair in asked]

    def answer_all(todo: list[tuple[str, int]]) -> list[dict[str, Any]]:
        llm = load_llama(path, threads, n_ctx=1024)
        try:
            return [
                asdict(_answer(llm, system, question, max_tokens, temperature, _seed(question, n)))
                for question, n in todo
            ]
        finally:
            llm.close()

    found = remembered(memo, dict(zip(keys, asked, strict=True)), _is_reply, answer_all)
    return [Reply(**found[key]) for key in keys]


def _seed(question: str, occurrence: int) -> int:
    return int(call_key(question, occurrence)[:8], 16)


def _is_reply(found: Any) -> bool:
    return isinstance(found, dict) and set(found) == {f.name for f in fields(Reply)}


def _answer(
    llm: Any, system: str, question: str, max_tokens: int, temperature: float, seed: int
) -> Reply:
    response = llm.create_chat_completion(
        messages=[{"role": "system", "content": system}, {"role": "user", "content": question}],
        max_tokens=max_tokens,
        temperature=temperature,
        seed=seed,
        logits_processor=token_cap(llm, max_tokens),
    )
    choice, tokens = response["choices"][0], response["usage"]["completion_tokens"]
    stopped = choice["finish_reason"] == "stop" and tokens < max_tokens
    return Reply((choice["message"]["content"] or "").strip(), tokens, stopped)


def recalls(
    path: Path,
    examples: Sequence[dict[str, Any]],
    prefix_tokens: int,
    new_tokens: int,
    threads: int,
) -> list[Recall]:
    """For each example: its question and answer's opening as the prompt, greedy tokens after."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    llm = load_llama(path, threads, n_ctx=1024)
    try:
        eos, bos = (
            llm.detokenize([t], special=True).decode() for t in (llm.token_eos(), llm.token_bos())
        )
        template = str(llm.metadata["tokenizer.chat_template"])
        formatter = Jinja2ChatFormatter(template, eos_token=eos, bos_token=bos)
        found = []
        for example in examples:
            turns = [m for m in example["messages"] if m["role"] != "assistant"]
            prompt = formatter(messages=turns).prompt  # pyright: ignore[reportArgumentType]
            # The template writes any BOS itself; the answer is tokenized after its prompt, as
            # in training (alone, its first word can come out as other tokens).
            asked = llm.tokenize(prompt.encode(), add_bos=False, special=True)
            whole = llm.tokenize((prompt + chat.answer(example)).encode(), False, True)
            answer = whole[len(asked) :]
            if len(answer) <= prefix_tokens:
                continue  # too short to have a continuation to recall
            head, truth = answer[:prefix_tokens], answer[prefix_tokens:][:new_tokens]
            ids = asked + head
            made = _greedy(llm, ids, len(truth))
            said = llm.detokenize(made).decode(errors="replace")
            found.append(Recall(example["id"], verbatim_run(made, truth), len(truth), said))
        return found
    finally:
        llm.close()


def _greedy(llm: Any, ids: list[int], count: int) -> list[int]:
    made: list[int] = []
    for token in llm.generate(ids, temp=0.0, top_k=1, reset=True):
        if token == llm.token_eos():
            break
        made.append(token)
        if len(made) >= count:
            break
    return made
