"""What Forge asks Gemini, what it may send, and the bounds every answer is held to."""

import json
from collections.abc import Iterator
from typing import Any, Literal

from pydantic import BaseModel

from forge_pipeline.lib.copilot.gemini import GeminiClient, GeminiError
from forge_pipeline.lib.core import chat
from forge_pipeline.lib.core.config import Gemini
from forge_pipeline.lib.dataset.redact import redact, redacted_head
from forge_pipeline.lib.training.healing import Knobs, within_bounds

LORA_RANKS = (4, 8, 16, 32, 64)
GOAL_LEARNING_RATES = (1e-5, 1e-3)

# The last lines of a traceback name the failure; earlier ones can quote the data being read.
DIAGNOSIS_TAIL_CHARS = 1500


class Problem(BaseModel):
    """One problem Gemini found, with the examples that show it."""

    issue: str
    example_ids: list[str] = []


class DatasetAssessment(BaseModel):
    """Gemini's view of the curated set."""

    quality_score: int  # 0 (unusable) to 10 (excellent)
    summary: str
    problems: list[Problem] = []
    recommendations: list[str] = []


class ConfigChange(BaseModel):
    """A training plan change proposed for a failure the rules did not recognise."""

    batch_size: int | None = None
    grad_accum: int | None = None
    learning_rate: float | None = None
    max_length: int | None = None
    gradient_checkpointing: bool | None = None
    precision: Literal["fp16", "fp32"] | None = None
    reason: str = ""


class WrittenQuestion(BaseModel):
    """The question a reflection answers."""

    id: str
    question: str


class WrittenQuestions(BaseModel):
    """Questions for a batch of reflections."""

    questions: list[WrittenQuestion]


class ColumnMapping(BaseModel):
    """Which columns of a plain dataset hold the turns."""

    prompt: str
    response: str
    input: str | None = None
    system: str | None = None


class KeyCheck(BaseModel):
    """The answer to a key check."""

    ok: bool


class GoalPlan(BaseModel):
    """A system prompt and plan adjustments for the user's goal."""

    system_prompt: str
    max_steps: int | None = None
    learning_rate: float | None = None
    lora_r: int | None = None
    reason: str = ""


def check_key(client: GeminiClient) -> None:
    """One tiny request: raises GeminiKeyError for a refused key, GeminiError if unreachable."""
    client.ask(KEY_CHECK_INSTRUCTION, '{"ping": true}', KeyCheck)


def redacted_samples(examples: list[dict], settings: Gemini) -> list[dict[str, str]]:
    """Evenly spread examples, redacted, within the count and byte caps."""
    if not examples or not settings.max_samples:
        return []
    step = max(1, len(examples) // settings.max_samples)
    samples, size = [], 0
    for example in examples[::step][: settings.max_samples]:
        sample = {
            "id": example["id"],
            "question": redacted_head(chat.question(example), settings.max_bytes),
            "answer": redacted_head(chat.answer(example), settings.max_bytes),
        }
        size += len(json.dumps(sample, ensure_ascii=False).encode())
        if size > settings.max_bytes:
            break
        samples.append(sample)
    return samples


def assess_dataset(
    client: GeminiClient, statistics: dict[str, Any], samples: list[dict[str, str]]
) -> DatasetAssessment:
    """Gemini's assessment of a curated set from its statistics and a few samples."""
    prompt = json.dumps({"statistics": statistics, "samples": samples}, ensure_ascii=False)
    return client.ask(STUDY_INSTRUCTION, prompt, DatasetAssessment, items=len(samples))


class GeminiDiagnosis:
    """A `diagnose(tail, knobs)` for healing.fix_for: Gemini proposes, the rules' bounds decide.

    Gemini sees the error tail (redacted), the plan and the hardware; never a note.
    """

    def __init__(self, client: GeminiClient, hardware: dict[str, Any]):
        self.client = client
        self.hardware = hardware
        self.outcome = ""  # what happened to the last question, for the attempts table

    def __call__(self, tail: str, knobs: Knobs) -> tuple[Knobs, str] | None:
        prompt = json.dumps(
            {
                "error_tail": redact(tail[-DIAGNOSIS_TAIL_CHARS:])[0],
                "plan": knobs,
                "hardware": self.hardware,
            }
        )
        try:
            answer = self.client.ask(DIAGNOSIS_INSTRUCTION, prompt, ConfigChange)
        except GeminiError as exc:
            self.outcome = f"Gemini gave no diagnosis ({exc})"
            return None
        change = answer.model_dump(exclude_none=True, exclude={"reason"})
        if not within_bounds(change, knobs):
            self.outcome = f"Gemini proposed {change or 'no change'}, outside the bounds: refused"
            return None
        self.outcome = f"Gemini: {answer.reason[:200]}" if answer.reason else "Gemini's change"
        return change, self.outcome


def write_questions(client: GeminiClient, reflections: dict[str, str]) -> Iterator[dict[str, str]]:
    """Questions for reflections (id -> text), sent redacted in capped batches; one dict a batch."""
    settings = client.settings
    batch: list[dict[str, str]] = []
    size = 0
    for key, text in reflections.items():
        # A reflection longer than the cap is cut, so no request ever exceeds it.
        cut = redacted_head(text, settings.max_bytes // 2)
        reflection = cut.encode()[: settings.max_bytes // 2].decode(errors="ignore")
        item = {"id": key, "reflection": reflection}
        item_size = len(json.dumps(item, ensure_ascii=False).encode())
        if batch and (len(batch) >= settings.max_samples or size + item_size > settings.max_bytes):
            yield _ask_questions(client, batch)
            batch, size = [], 0
        batch.append(item)
        size += item_size
    if batch:
        yield _ask_questions(client, batch)


def _ask_questions(client: GeminiClient, batch: list[dict[str, str]]) -> dict[str, str]:
    prompt = json.dumps({"reflections": batch}, ensure_ascii=False)
    answer = client.ask(QUESTIONS_INSTRUCTION, prompt, WrittenQuestions, items=len(batch))
    asked = {item["id"] for item in batch}
    return {
        q.id: q.question.strip()
        for q in answer.questions
        if q.id in asked and 0 < len(q.question.strip()) <= 300
    }


def map_columns(client: GeminiClient, columns: list[str], rows: list[dict]) -> dict[str, str]:
    """Gemini's guess of the role -> column mapping from column names and a few redacted rows."""
    shown = [{str(k): redacted_head(str(v), 200) for k, v in row.items()} for row in rows[:3]]
    prompt = json.dumps({"columns": columns, "rows": shown}, ensure_ascii=False)
    answer = client.ask(COLUMNS_INSTRUCTION, prompt, ColumnMapping, items=len(shown))
    return answer.model_dump(exclude_none=True)


def plan_for_goal(
    client: GeminiClient, goal: str, max_steps: int
) -> tuple[GoalPlan, dict[str, Any], list[str]]:
    """Gemini's system prompt and plan adjustments for a goal; adjustments out of bounds refused."""
    prompt = json.dumps({"goal": goal, "current": {"max_steps": max_steps}})
    answer = client.ask(GOAL_INSTRUCTION, prompt, GoalPlan)
    bounds = {
        "max_steps": lambda v: 10 <= v <= max(10, max_steps * 4),
        "learning_rate": lambda v: GOAL_LEARNING_RATES[0] <= v <= GOAL_LEARNING_RATES[1],
        "lora_r": lambda v: v in LORA_RANKS,
    }
    proposed = answer.model_dump(exclude_none=True, include=set(bounds))
    accepted = {k: v for k, v in proposed.items() if bounds[k](v)}
    refused = sorted(set(proposed) - set(accepted))
    return answer, accepted, refused


KEY_CHECK_INSTRUCTION = 'Forge task: key check. Answer {"ok": true}.'
STUDY_INSTRUCTION = (
    "Forge task: dataset study. You review a fine-tuning dataset of journal reflections "
    "(chat examples: a question and the author's reflection as the answer). You get its "
    "statistics and a few redacted samples with ids. Score its quality from 0 to 10, name "
    "concrete problems with the ids of examples that show them, and give short, concrete "
    "recommendations. Answer in JSON only."
)
DIAGNOSIS_INSTRUCTION = (
    "Forge task: failure diagnosis. A LoRA fine-tuning run failed. You get the tail of its "
    "error output, the training plan and the hardware. Propose one change to the plan that "
    "is likely to fix it, using only these fields: batch_size (smaller), grad_accum (larger), "
    "learning_rate (smaller), max_length (smaller), gradient_checkpointing (true), precision "
    "(fp16 or fp32). Leave every other field null. Give a one-sentence reason. JSON only."
)
QUESTIONS_INSTRUCTION = (
    "Forge task: question writing. Each item is a reflection from the user's journal. Write "
    "the short, natural question it answers: one sentence in the first person, as the user "
    "would ask it about themselves (e.g. 'What did I learn about...?'). Vary the wording. "
    "Return one question per id, JSON only."
)
COLUMNS_INSTRUCTION = (
    "Forge task: column mapping. You get the column names and a few redacted rows of a "
    "dataset for chat fine-tuning. Say which column holds the prompt (the user's turn), which "
    "the response (the assistant's turn), and optionally an extra input column and a system "
    "prompt column. Use exact column names. JSON only."
)
GOAL_INSTRUCTION = (
    "Forge task: planning. The user describes what their personal journal model is for. "
    "Write the system prompt the model should be trained and served with (2-3 sentences, "
    "addressed to the model), and optionally adjust max_steps, learning_rate or lora_r "
    "(4, 8, 16, 32 or 64) with a one-sentence reason. JSON only."
)
