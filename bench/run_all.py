"""Run every benchmark under bench/ and write the latest figures to bench/results.json.

Usage: make bench   (or: .venv/bin/python bench/run_all.py)
"""

import subprocess
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent


def main() -> int:
    """Run each bench_*.py in turn, then refresh the README's figures table."""
    for script in sorted(BENCH_DIR.glob("bench_*.py")):
        print(f"== {script.name}", flush=True)
        if subprocess.run([sys.executable, str(script)], check=False).returncode != 0:
            print(f"{script.name} failed", file=sys.stderr)
            return 1
    return subprocess.run(
        [sys.executable, str(BENCH_DIR / "render_readme.py")], check=False
    ).returncode


if __name__ == "__main__":
    sys.exit(main())
