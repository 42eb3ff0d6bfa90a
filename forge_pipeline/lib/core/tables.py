"""Small Markdown renderings for Dagster metadata."""

from collections.abc import Iterable, Sequence


def markdown_table(
    headers: Sequence[str], rows: Iterable[Sequence[object]], limit: int = 50
) -> str:
    """A Markdown table of at most `limit` rows (cells escaped for pipes)."""

    def cell(value: object) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    rows = list(rows)
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows[:limit]]
    if len(rows) > limit:
        lines.append(f"| … {len(rows) - limit} more | " + " | " * (len(headers) - 1))
    return "\n".join(lines)
