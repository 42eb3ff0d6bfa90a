"""Figures over generated answers: stop rate, loops, verbatim recall, PII that left the vault."""

from collections.abc import Sequence
from dataclasses import dataclass

LOOP_NGRAM = 4  # a 4-word run said twice in one answer reads as a loop


@dataclass
class Reply:
    """One generated answer: its text, its tokens, and whether it ended with end-of-turn."""

    text: str
    tokens: int
    stopped: bool


def stop_rate(replies: Sequence[Reply]) -> float:
    """The share of answers that ended by themselves before the token limit."""
    return round(sum(r.stopped for r in replies) / len(replies), 3) if replies else 0.0


def distinct_2(texts: Sequence[str]) -> float:
    """Distinct word pairs over all word pairs of the answers (1.0: nothing repeated)."""
    pairs = [pair for text in texts for pair in _ngrams(text.lower().split(), 2)]
    return round(len(set(pairs)) / len(pairs), 3) if pairs else 0.0


def looping(text: str, n: int = LOOP_NGRAM) -> bool:
    """Whether some run of n words occurs twice in the answer."""
    grams = _ngrams(text.lower().split(), n)
    return len(set(grams)) < len(grams)


def loop_share(texts: Sequence[str]) -> float:
    """The share of answers that repeat a 4-word run."""
    return round(sum(looping(t) for t in texts) / len(texts), 3) if texts else 0.0


def verbatim_run(generated: Sequence[int], truth: Sequence[int]) -> int:
    """The longest run of tokens in a row that the generation shares with the true continuation."""
    longest, ending = 0, [0] * (len(truth) + 1)  # ending[j]: the shared run ending at truth[j-1]
    for made in generated:
        previous, ending = ending, [0] * (len(truth) + 1)
        for j, true in enumerate(truth, 1):
            if made == true:
                ending[j] = previous[j - 1] + 1
                longest = max(longest, ending[j])
    return longest


def pii_leaked(answers: Sequence[str], vault_pii: set[str]) -> list[str]:
    """The vault's emails, phone numbers and URLs that occur in the answers."""
    return sorted({item for item in vault_pii for text in answers if item in text})


def _ngrams(words: list[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
