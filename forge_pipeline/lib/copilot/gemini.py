"""A small Gemini client: structured answers, bounded retries, one clear error for a bad key."""

from dataclasses import dataclass
from typing import TypeVar

from pydantic import BaseModel

from forge_pipeline.lib.core.config import Gemini

KEY_ENV = "GEMINI_API_KEY"
# 408 timeout, 429 rate limit, 5xx: worth another try; other 4xx are our mistake or the key.
RETRY_STATUSES = [408, 429, 500, 502, 503, 504]

Answer = TypeVar("Answer", bound=BaseModel)


class GeminiError(RuntimeError):
    """Gemini could not give a usable answer (after retries); the caller goes on offline."""


class GeminiKeyError(GeminiError):
    """Gemini refused the API key."""


@dataclass
class Usage:
    """What left the machine: HTTP requests, their bytes, and the items (examples) in them."""

    requests: int = 0
    bytes_sent: int = 0
    items_sent: int = 0


class GeminiClient:
    """Asks Gemini for JSON answers that fit a pydantic schema."""

    def __init__(self, api_key: str, settings: Gemini):
        import httpx
        from google import genai  # here: importing the SDK costs ~1 s on every Dagster step
        from google.genai import types

        self.settings = settings
        self.usage = Usage()
        retry = types.HttpRetryOptions(
            attempts=settings.retries + 1,
            initial_delay=settings.backoff_s,
            max_delay=settings.backoff_s * 8,
            http_status_codes=RETRY_STATUSES,
        )
        options = types.HttpOptions(
            timeout=int(settings.timeout_s * 1000),
            retry_options=retry,
            base_url=settings.base_url or None,
            # Every request the SDK makes, its own retries included, is counted as it leaves.
            httpx_client=httpx.Client(event_hooks={"request": [self._count]}),
        )
        self._client = genai.Client(api_key=api_key, http_options=options)

    def _count(self, request) -> None:
        self.usage.requests += 1
        self.usage.bytes_sent += len(request.content)

    def ask(self, instruction: str, prompt: str, schema: type[Answer], items: int = 0) -> Answer:
        """Gemini's answer to `prompt` as `schema`; malformed answers are asked again."""
        from google.genai import errors, types

        config = types.GenerateContentConfig(
            system_instruction=instruction,
            response_mime_type="application/json",
            response_schema=schema,
            temperature=0.2,
        )
        problem = "no answer"
        for _ in range(self.settings.retries + 1):
            self.usage.items_sent += items
            try:
                response = self._client.models.generate_content(
                    model=self.settings.model, contents=prompt, config=config
                )
            except errors.ClientError as exc:
                if _is_key_problem(exc):
                    raise GeminiKeyError(
                        f"Gemini refused the key in {KEY_ENV} ({exc.code} {exc.status}); "
                        "check it at https://aistudio.google.com/apikey or unset it to run offline."
                    ) from None
                raise GeminiError(
                    f"Gemini answered {exc.code} {exc.status}: {exc.message}"
                ) from None
            except errors.APIError as exc:
                raise GeminiError(
                    f"Gemini answered {exc.code} {exc.status} after retries."
                ) from None
            except Exception as exc:  # timeouts and connection errors come from httpx
                raise GeminiError(f"Gemini could not be reached ({type(exc).__name__}).") from None
            if isinstance(response.parsed, schema):
                return response.parsed
            problem = "answers that did not fit the expected JSON"
        raise GeminiError(f"Gemini gave {problem} {self.settings.retries + 1} times.")


def unavailable_reason(api_key: str, settings: Gemini, sends_notes: bool) -> str | None:
    """Why Gemini is not used for a task, or None when it may be."""
    if not api_key:
        return f"{KEY_ENV} is not set"
    if sends_notes and not settings.share_notes:
        return "gemini.share_notes is false, so note text stays on this machine"
    return None


def _is_key_problem(exc: Exception) -> bool:
    code = getattr(exc, "code", None)
    text = f"{getattr(exc, 'status', '')} {getattr(exc, 'message', '')}"
    return code in (401, 403) or (code == 400 and "API key" in text) or "API_KEY" in text
