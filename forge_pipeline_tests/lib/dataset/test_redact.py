"""PII redaction.

Does not touch: anything but text.
"""

import pytest

from forge_pipeline.lib.dataset.redact import find_pii, redact


@pytest.mark.parametrize(
    ("text", "redacted", "count"),
    [
        ("Mail maya.k+work@example.co.uk today", "Mail [email] today", 1),
        ("See https://example.org/a?b=1 and www.site.com.", "See [url] and [url].", 2),
        ("Call +44 20 7946 0958 or (030) 123-4567.", "Call [phone] or [phone].", 2),
        (
            "On 2026-01-05 I ran 16 km in 1:32, 6 x 400 m.",
            "On 2026-01-05 I ran 16 km in 1:32, 6 x 400 m.",
            0,
        ),
        ("Write alice [at] example [dot] com", "Write [email]", 1),
        ("or alice(at)example.com, or bob @ example.com.", "or [email], or [email].", 2),
        ("hidden al\u200bice@exa\u200bmple.com here", "hidden [email] here", 1),
        ("my page example.com/notes/today is up", "my page [url] is up", 1),
        (
            "token sk-live0123456789abcdefghij and AKIAABCDEFGHIJKLMNOP",
            "token [secret] and [secret]",
            2,
        ),
        ("pasted 9f8e7d6c5b4a39281706f5e4d3c2b1a0ffeeddcc", "pasted [secret]", 1),
        (
            "Standup 2026-03-01 10:30-11:45, then 13:00-14:15.",
            "Standup 2026-03-01 10:30-11:45, then 13:00-14:15.",
            0,
        ),
        (
            "Updated to 10.0.19041.1234 and torch 2.13.0.",
            "Updated to 10.0.19041.1234 and torch 2.13.0.",
            0,
        ),
        ("I was at home, then at the state-of-the-art-2024 show in node.js land.", None, 0),
    ],
)
def test_redact(text, redacted, count):
    assert redact(text) == (redacted or text, count)
    assert len(find_pii(text)) == count
