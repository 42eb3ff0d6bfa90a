"""Print requirements.lock as constraints any torch build satisfies (cpu, cu126, cu128, ...).

The lock pins the host's CPU build, `torch==2.13.0+cpu`, which a CUDA wheel never matches;
without the local part, `torch==2.13.0` matches every build of that version (PEP 440).
"""

import re
import sys
from pathlib import Path


def image_constraints(lock: str) -> str:
    """The lock's lines with the local version part of every pin dropped."""
    return re.sub(r"^([A-Za-z0-9_.-]+==[^+\s]+)\+\S+$", r"\1", lock, flags=re.MULTILINE)


if __name__ == "__main__":
    sys.stdout.write(image_constraints(Path(sys.argv[1]).read_text()))
