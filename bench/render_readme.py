"""Rewrite the README's figures table from bench/results.json."""

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- bench:start -->", "<!-- bench:end -->"


def main() -> int:
    """Replace the text between the bench markers with a table of every figure."""
    results = json.loads((ROOT / "bench" / "results.json").read_text())
    rows = ["| figure | value | unit | date | command | note |", "|---|---|---|---|---|---|"]
    rows += [
        f"| `{key}` | {r['value']} | {r['unit']} | {r['date']} | `{r['command']}` | "
        f"{r.get('note', '')} |"
        for key, r in results.items()
    ]
    readme = ROOT / "README.md"
    text = readme.read_text()
    table = START + "\n" + "\n".join(rows) + "\n" + END
    readme.write_text(
        re.sub(re.escape(START) + ".*?" + re.escape(END), table, text, flags=re.DOTALL)
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
