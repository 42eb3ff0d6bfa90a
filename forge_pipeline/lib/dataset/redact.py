"""Redact personal details (emails, phone numbers, URLs) from text."""

import re

PATTERNS = {
    "email": re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"),
    "url": re.compile(r"\b(?:https?://|www\.)[^\s<>()\[\]]*[^\s<>()\[\].,;:!?'\"]", re.I),
    "phone": re.compile(r"(?<![\w/])\+?\(?\d[\d\s().-]{5,}\d(?![\w/])"),
}
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


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
