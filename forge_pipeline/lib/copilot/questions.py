"""Gemini-written user turns for reflection examples, cached by the reflection's content hash."""

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from forge_pipeline.lib.copilot.gemini import GeminiClient, GeminiError
from forge_pipeline.lib.copilot.tasks import write_questions
from forge_pipeline.lib.core import chat
from forge_pipeline.lib.core.artifacts import atomic_file


@dataclass
class QuestionPass:
    """Examples with Gemini's questions where known, and how each question came to be."""

    examples: list[dict]
    from_cache: int
    written_now: int
    templated: int
    error: str | None = None


def with_gemini_questions(
    examples: list[dict], client: GeminiClient, cache_path: Path, limit: int
) -> QuestionPass:
    """Swap in Gemini's question for each reflection; only reflections new to the cache are sent.

    At most `limit` are asked for per run; the rest keep their template question until next run.
    """
    before = _read_cache(cache_path)
    cache = dict(before)
    keys = [_content_key(chat.answer(e)) for e in examples]
    todo = {key: chat.answer(e) for key, e in zip(keys, examples, strict=True) if key not in cache}
    written: dict[str, str] = {}
    error = None
    try:  # batch by batch, so what was written before a failure is kept
        for batch in write_questions(client, dict(list(todo.items())[:limit])):
            written.update(batch)
    except GeminiError as exc:
        error = str(exc)
    cache.update(written)
    for key, example in zip(keys, examples, strict=True):
        if key in cache:
            chat.with_question(example, cache[key])
    current = {key: cache[key] for key in keys if key in cache}  # forget deleted reflections
    if current != before:
        with atomic_file(cache_path) as tmp:
            tmp.write_text(json.dumps(current, ensure_ascii=False, sort_keys=True))
    fresh = sum(key in written for key in keys)
    asked = sum(key in cache for key in keys)
    return QuestionPass(examples, asked - fresh, fresh, len(examples) - asked, error)


def _content_key(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _read_cache(path: Path) -> dict[str, str]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
