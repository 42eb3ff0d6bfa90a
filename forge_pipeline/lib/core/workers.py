"""Work split over worker processes, for inputs large enough to repay starting them."""

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

WORKERS = min(os.cpu_count() or 1, 8)
CHUNKS_PER_WORKER = 4  # several per worker, so one slow chunk does not leave a core idle


def worth_workers(items: int, minimum: int) -> bool:
    """Whether `items` pieces of work repay starting worker processes."""
    return WORKERS > 1 and items >= minimum


def chunk_slices(items: int) -> list[slice]:
    """Consecutive slices covering range(items), CHUNKS_PER_WORKER per worker."""
    size = max(1, -(-items // (WORKERS * CHUNKS_PER_WORKER)))
    return [slice(start, start + size) for start in range(0, items, size)]


def map_in_workers(function: Callable[..., Any], chunks: list[Any], *shared: Any) -> list[Any]:
    """function(chunk, *shared) for every chunk, in spawned worker processes, in order."""
    # spawn, not fork: the Dagster process that calls this runs threads.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(WORKERS, mp_context=context) as pool:
        columns = [[value] * len(chunks) for value in shared]
        return list(pool.map(function, chunks, *columns))
