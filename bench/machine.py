"""What every benchmark stands on: this machine's raw fp32 matmul rate (the yardstick other
figures are read against) and a fresh FORGE_HOME sharing the project's download cache."""

import os
import shutil
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def matmul_gflops(size: int = 1024, repeats: int = 20) -> float:
    """fp32 matmul throughput of this machine right now (torch's current thread count)."""
    import torch

    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)
    started = time.perf_counter()
    for _ in range(repeats):
        torch.mm(a, b)
    return round(2 * size**3 * repeats / (time.perf_counter() - started) / 1e9, 1)


def fresh_forge_home(home: Path) -> dict[str, str]:
    """An empty FORGE_HOME with its Dagster instance; the environment that points at it."""
    shutil.rmtree(home, ignore_errors=True)
    (home / "dagster").mkdir(parents=True)
    shutil.copy(ROOT / "dagster.yaml", home / "dagster" / "dagster.yaml")
    return {
        **os.environ,
        "FORGE_HOME": str(home),
        "DAGSTER_HOME": str(home / "dagster"),
        "FORGE_CACHE_DIR": str(ROOT / ".forge" / "cache"),
        "HF_HUB_OFFLINE": "1",
    }
