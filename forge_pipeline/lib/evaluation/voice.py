"""Does it write like the person: Burrows' Delta over their most frequent words, and their
character 3-gram profile."""

import math
import re
from collections import Counter
from collections.abc import Sequence
from statistics import fmean, pstdev

_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")
DELTA_WORDS = 50
DELTA_METHOD = (
    "Burrows' Delta: mean |z| difference over the {n} most frequent words of your training "
    "answers, z-scored across those answers; lower is closer to your voice"
)


def words(text: str) -> list[str]:
    """Lower-cased words, apostrophes kept inside them (don't, I'm)."""
    return _WORD.findall(text.lower())


def burrows_delta(
    text: str, own: str, reference: Sequence[str], most_frequent: int = DELTA_WORDS
) -> float:
    """Burrows' Delta between text and the person's own, scaled by their reference writing."""
    corpus = [words(r) for r in reference]
    corpus = [c for c in corpus if c]
    counts = Counter(w for c in corpus for w in c)
    top = [w for w, _ in counts.most_common(most_frequent)]
    columns = list(zip(*(_frequencies(c, top) for c in corpus), strict=True))
    scales = [(fmean(col), pstdev(col)) for col in columns]
    pairs = zip(_frequencies(words(text), top), _frequencies(words(own), top), scales, strict=True)
    # A word as frequent in every reference answer says nothing about style: it is skipped.
    gaps = [abs(a - b) / spread for a, b, (_, spread) in pairs if spread > 0]
    return round(fmean(gaps), 3) if gaps else 0.0


CHAR_METHOD = (
    "cosine similarity of character 3-gram counts (lower-cased, spaces collapsed) to your "
    "held-out answers; higher is closer to your voice"
)


def char_profile_similarity(text: str, own: str, n: int = 3) -> float:
    """Cosine similarity of the two texts' character n-gram counts."""
    mine, theirs = _char_grams(text, n), _char_grams(own, n)
    norm = math.sqrt(sum(v * v for v in mine.values()) * sum(v * v for v in theirs.values()))
    return round(sum(c * theirs[g] for g, c in mine.items()) / norm, 3) if norm else 0.0


def _char_grams(text: str, n: int) -> Counter[str]:
    text = " ".join(text.lower().split())
    return Counter(text[i : i + n] for i in range(len(text) - n + 1))


def _frequencies(tokens: list[str], top: list[str]) -> list[float]:
    counts, total = Counter(tokens), len(tokens) or 1
    return [counts[w] / total for w in top]
