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
    ],
)
def test_redact(text, redacted, count):
    assert redact(text) == (redacted, count)
    assert len(find_pii(text)) == count
