"""Statistics of a curated set and the recommendations rules can make from them, offline."""

import re
from collections import Counter
from typing import Any

from forge_pipeline.lib.core import chat
from forge_pipeline.lib.dataset.curation import pii_left
from forge_pipeline.lib.dataset.profile import by_month, by_tag, duplicates_left, percentile

# A few of the commonest words per language: enough to tell a journal's language apart.
STOPWORDS = {
    "en": {"the", "and", "i", "to", "of", "a", "is", "that", "it", "my", "was", "in"},
    "de": {"und", "ich", "die", "der", "das", "ist", "nicht", "zu", "es", "mit", "ein", "mir"},
    "fr": {"je", "et", "le", "la", "les", "de", "est", "que", "pas", "un", "une", "mon"},
    "es": {"y", "que", "el", "la", "de", "en", "los", "es", "no", "mi", "por", "una"},
    "it": {"e", "che", "il", "di", "non", "la", "un", "mi", "sono", "per", "una", "ho"},
    "nl": {"en", "ik", "de", "het", "een", "dat", "niet", "van", "is", "mijn", "te", "op"},
}
_WORD = re.compile(r"[^\W\d_]+")
SMALL_SET = 200
TINY_VAL = 10
SHORT_ANSWER_WORDS = 15


def language_of(text: str) -> str:
    """The language whose common words occur most in the text ('unknown' if none do)."""
    words = Counter(w.lower() for w in _WORD.findall(text))
    scores = {lang: sum(words[w] for w in common) for lang, common in STOPWORDS.items()}
    best = max(scores, key=scores.__getitem__)
    return best if scores[best] else "unknown"


def study_statistics(
    train: list[dict], val: list[dict], token_stats: dict[str, int]
) -> dict[str, Any]:
    """Counts, lengths, tags, months, duplicates, PII and languages of a curated set."""
    examples = train + val
    answer_words = sorted(len(chat.answer(e).split()) for e in examples)
    months = [m for m, _ in by_month(examples) if m != "undated"]
    languages = Counter(language_of(chat.answer(e)) for e in examples)
    return {
        "train_examples": len(train),
        "val_examples": len(val),
        "source_files": len({e.get("source_file") for e in examples}),
        **token_stats,
        "answer_words_p50": percentile(answer_words, 0.5),
        "top_tags": dict(by_tag(examples, top=8)),
        "months": len(months),
        "first_month": months[0] if months else None,
        "last_month": months[-1] if months else None,
        "duplicates_left": duplicates_left(examples),
        "examples_with_pii": pii_left(examples),
        "languages": dict(languages.most_common()),
    }


def rule_recommendations(stats: dict[str, Any], max_length: int | None) -> list[str]:
    """What the rules suggest for a set with these statistics."""
    found = []
    total = stats["train_examples"] + stats["val_examples"]
    if stats["train_examples"] < SMALL_SET:
        found.append(
            f"Only {stats['train_examples']} training examples: tag more reflections in the vault "
            "(see extraction.reflection_tags) and keep training.max_steps low to avoid overfitting."
        )
    if stats["val_examples"] < TINY_VAL:
        found.append(
            f"{stats['val_examples']} validation examples make the eval loss noisy: "
            "raise curation.val_fraction or add notes."
        )
    if stats["answer_words_p50"] < SHORT_ANSWER_WORDS:
        found.append(
            f"Half the answers have under {SHORT_ANSWER_WORDS} words: the model will learn to "
            "answer tersely; write longer reflections or raise curation.min_tokens."
        )
    if stats["top_tags"] and total:
        tag, count = next(iter(stats["top_tags"].items()))
        if count / total > 0.6:
            found.append(
                f"{count / total:.0%} of examples carry #{tag}: the model will lean on that "
                "topic; tag reflections on other themes too."
            )
    if 0 < stats["months"] < 3:
        found.append(
            f"All dated examples come from {stats['months']} month(s): add older notes so the "
            "model knows more than one season of your life."
        )
    if stats["duplicates_left"]:
        found.append(f"{stats['duplicates_left']} repeated answers remain: check review.yaml.")
    if stats["examples_with_pii"]:
        found.append(
            f"{stats['examples_with_pii']} examples hold emails, phone numbers or URLs: "
            "turn on curation.redact_pii."
        )
    languages = stats["languages"]
    if total and sum(1 for n in languages.values() if n / total >= 0.1) > 1:
        found.append(
            f"The answers mix languages ({', '.join(languages)}): a 135M model does best with one."
        )
    if max_length and stats.get("tokens_p95", 0) > max_length:
        found.append(
            f"The 95th percentile ({stats['tokens_p95']} tokens) exceeds training.max_length "
            f"({max_length}): long examples will be cut."
        )
    return found or ["No problems the rules can see."]
