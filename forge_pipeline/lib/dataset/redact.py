"""Redact personal details (emails, phone numbers, URLs) from text."""

import re

PATTERNS = {
    # Bounded as addresses are (64 before the @, 63 a label): unbounded, it was quadratic.
    "email": re.compile(r"\b[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,8}\b"),
    "url": re.compile(r"\b(?:https?://|www\.)[^\s<>()\[\]]*[^\s<>()\[\].,;:!?'\"]", re.I),
    "phone": re.compile(r"(?<![\w/])\+?\(?\d[\d\s().-]{5,}\d(?![\w/])"),
}
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# Longer than any address, link or number redact() matches, so none is cut in half unredacted.
_CUT_MARGIN = 2000


def redact(text: str) -> tuple[str, int]:
    """Text with every email, URL and phone number replaced by [email], [url], [phone]."""
    count = 0
    for name, pattern in PATTERNS.items():

        def swap(match: re.Match[str], name: str = name) -> str:
            nonlocal count
            if not _is_pii(match.group(), name):
                return match.group()
            count += 1
            return f"[{name}]"

        text = pattern.sub(swap, text)
    return text, count


def redacted_head(text: str, limit: int) -> str:
    """The first limit characters of text, redacted; only a margin past the limit is read."""
    return redact(text[: limit + _CUT_MARGIN])[0][:limit]


def find_pii(text: str) -> list[str]:
    """The personal details redact() would replace."""
    return [
        m.group()
        for name, pattern in PATTERNS.items()
        for m in pattern.finditer(text)
        if _is_pii(m.group(), name)
    ]


def _is_pii(found: str, name: str) -> bool:
    # Phone-shaped runs must hold 7+ digits and not be an ISO date.
    if name != "phone":
        return True
    return sum(c.isdigit() for c in found) >= 7 and not _DATE.fullmatch(found.strip())
