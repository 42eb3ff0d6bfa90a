"""How an asset used Gemini, as metadata: whether, why not, and how much was sent (never what)."""

from typing import Any

from forge_pipeline.lib.copilot.gemini import GeminiClient


def gemini_metadata(client: GeminiClient | None, reason: str) -> dict[str, Any]:
    """`gemini_used`, and either why not or the requests, items and bytes that were sent."""
    if client is None:
        return {"gemini_used": False, "gemini_not_used_because": reason}
    usage = client.usage
    return {
        "gemini_used": usage.requests > 0,
        "gemini_model": client.settings.model,
        "gemini_requests": usage.requests,
        "gemini_items_sent": usage.items_sent,
        "gemini_bytes_sent": usage.bytes_sent,
    }
