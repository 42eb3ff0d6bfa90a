"""Fixed samples of a list of examples, the same every run."""

from collections.abc import Sequence
from typing import Any


def spread(examples: Sequence[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    """count examples spread over the list, so one month or note does not make the sample."""
    return list(examples[:: max(1, len(examples) // count)][:count])
