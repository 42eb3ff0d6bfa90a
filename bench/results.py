"""Read and update bench/results.json: one entry per figure, keyed area.figure."""

import datetime as dt
import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results.json"


def record(key: str, value: float, unit: str, command: str, note: str = "") -> None:
    """Store the latest value of one figure with the command that produced it."""
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results[key] = {
        "value": value,
        "unit": unit,
        "command": command,
        "date": dt.date.today().isoformat(),
        **({"note": note} if note else {}),
    }
    RESULTS.write_text(json.dumps(dict(sorted(results.items())), indent=2) + "\n")
    print(f"{key} = {value} {unit}")
