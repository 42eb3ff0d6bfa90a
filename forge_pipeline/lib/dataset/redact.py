"""Redact personal details (emails, phone numbers, URLs, API keys) from text.

Covered: email addresses (also written `name [at] host [dot] com`, `name(at)host.com`,
`name @ host.com`), links with a scheme or `www.` and bare domains of common endings, phone
numbers of 7 digits or more, and key-like tokens. Not covered: names, street addresses, and
anything else that reads as ordinary words.
"""

import re

_AT = r"(?:\s?@\s?|\s?[\[({]at[\])}]\s?)"
_DOT = r"(?:\.|\s?[\[({]dot[\])}]\s?)"
_TLDS = r"(?:com|org|net|io|dev|app|co|uk|de|fr|nl|me|info|edu|gov|ai|ly|blog|page|xyz)"
PATTERNS = {
    # Bounded as addresses are (64 before the @, 63 a label): unbounded, it was quadratic.
    "email": re.compile(
        rf"\b[\w.+-]{{1,64}}{_AT}[\w-]{{1,63}}(?:{_DOT}[\w-]{{1,63}}){{1,8}}\b", re.I
    ),
    "url": re.compile(
        r"\b(?:https?://|www\.)[^\s<>()\[\]]*[^\s<>()\[\].,;:!?'\"]"
        rf"|\b(?:[\w-]{{1,63}}\.){{1,4}}{_TLDS}\b(?:/[^\s<>()\[\]]*[^\s<>()\[\].,;:!?'\"])?",
        re.I,
    ),
    # Long runs of letters and digits together: API keys, tokens, passwords pasted in a note.
    "secret": re.compile(
        r"\b(?:(?:sk|pk|rk)[-_]|gh[pousr]_|xox[abprs]-|AKIA|AIza)[\w-]{16,}"
        r"|\b(?=\w{0,80}\d)(?=\w{0,80}[A-Za-z])[A-Za-z0-9_]{32,}\b"
    ),
    # Not glued to a time (10:30) or a version (2.13.0); see _is_pii for the rest.
    "phone": re.compile(r"(?<![\w/:.])\+?\(?\d[\d\s().-]{5,}\d(?![\w/:]|\.\d)"),
}
_INVISIBLE = re.compile("[\u200b-\u200d\u2060\ufeff\u00ad]")  # zero-width, soft hyphen
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# Longer than any address, link or number redact() matches, so none is cut in half unredacted.
_CUT_MARGIN = 2000


def redact(text: str) -> tuple[str, int]:
    """Text with every email, URL, key and phone number replaced by [email], [url], …"""
    redacted, found = _redacted(text)
    return redacted, len(found)


def redacted_head(text: str, limit: int) -> str:
    """The first limit characters of text, redacted; only a margin past the limit is read."""
    return redact(text[: limit + _CUT_MARGIN])[0][:limit]


def find_pii(text: str) -> list[str]:
    """The personal details redact() would replace."""
    return _redacted(text)[1]


def _redacted(text: str) -> tuple[str, list[str]]:
    """The text redacted pattern by pattern (an address is not a URL too), and what was found."""
    found: list[str] = []
    text = _INVISIBLE.sub("", text)  # invisible characters hid addresses from every pattern
    for name, pattern in PATTERNS.items():

        def swap(match: re.Match[str], name: str = name) -> str:
            if not _is_pii(match.group(), name):
                return match.group()
            found.append(match.group())
            return f"[{name}]"

        text = pattern.sub(swap, text)
    return text, found


def _is_pii(found: str, name: str) -> bool:
    # Phone-shaped runs must hold 7+ digits and be no ISO date and no dotted version number.
    if name != "phone":
        return True
    found = found.strip()
    groups = found.split(".")
    version = (
        len(groups) > 2 and any(len(g) <= 2 for g in groups) and found.replace(".", "").isdigit()
    )
    return sum(c.isdigit() for c in found) >= 7 and not _DATE.fullmatch(found) and not version
