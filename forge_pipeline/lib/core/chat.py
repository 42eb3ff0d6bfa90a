"""Chat examples as Forge stores them: system, user and assistant turns, and their source."""

from typing import Any, TypedDict


class Turn(TypedDict):
    """One message of a conversation."""

    role: str  # system | user | assistant
    content: str


class ChatExample(TypedDict):
    """One training example: a conversation and where it came from."""

    id: str  # stable while the source's path and the answer stay the same
    messages: list[Turn]
    source_file: str
    tags: list[str]
    date: str | None
    kind: str
    found_by: str


def question(example: ChatExample | dict[str, Any]) -> str:
    """The user turn the answer replies to."""
    return example["messages"][_last(example, "user")]["content"]


def answer(example: ChatExample | dict[str, Any]) -> str:
    """The assistant turn: the person's own words."""
    return example["messages"][_last(example, "assistant")]["content"]


def with_question(example: ChatExample | dict[str, Any], text: str) -> None:
    """Replace the user turn in place."""
    example["messages"][_last(example, "user")]["content"] = text


def prompt_turns(example: ChatExample | dict[str, Any]) -> list[Turn]:
    """Every turn before the answer: what a model is given to reply to."""
    return example["messages"][: _last(example, "assistant")]


def _last(example: ChatExample | dict[str, Any], role: str) -> int:
    messages = example["messages"]
    return max(i for i, message in enumerate(messages) if message["role"] == role)
