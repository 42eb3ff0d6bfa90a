"""Work split over worker processes, for inputs large enough to repay starting them."""

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import partial
from typing import Any

import pyarrow as pa

WORKERS = min(os.cpu_count() or 1, 8)
CHUNKS_PER_WORKER = 16  # many per worker, so the last chunks do not leave a core idle long
_pool: ProcessPoolExecutor | None = None


def worth_workers(items: int, minimum: int) -> bool:
    """Whether `items` pieces of work repay starting worker processes."""
    return WORKERS > 1 and items >= minimum


def chunk_slices(items: int) -> list[slice]:
    """Consecutive slices covering range(items), CHUNKS_PER_WORKER per worker."""
    size = max(1, -(-items // (WORKERS * CHUNKS_PER_WORKER)))
    return [slice(start, start + size) for start in range(0, items, size)]


def map_in_workers(function: Callable[..., Any], chunks: list[Any], *shared: Any) -> list[Any]:
    """function(chunk, *shared) for every chunk, in worker processes, in order."""
    global _pool
    # Started once per process and kept: a spawned worker imports the caller's main module
    # again (Dagster's CLI: ~1 s a worker), which parsing and then extracting paid twice.
    # Spawn, not fork: the Dagster process that calls this runs threads.
    if _pool is None:
        _pool = ProcessPoolExecutor(WORKERS, mp_context=multiprocessing.get_context("spawn"))
    columns = [[value] * len(chunks) for value in shared]
    try:
        return list(_pool.map(function, chunks, *columns))
    except BrokenProcessPool:
        _pool = None  # a worker died (out of memory, killed): the next call starts new ones
        raise


def map_table_in_workers(function: Callable[..., Any], table: pa.Table, *shared: Any) -> list[Any]:
    """function(part, *shared) for consecutive parts of an Arrow table, in worker processes."""
    # Each part travels as an IPC stream of its own rows: a pickled slice carries the whole
    # table's buffers, and take() on columns of several chunks concatenates them for every part
    # (~1 s of the parent's time on a 100k-note vault before the workers had any work).
    parts = [
        _ipc(table.slice(part.start, part.stop - part.start)) for part in chunk_slices(len(table))
    ]
    return map_in_workers(partial(_on_part, function), parts, *shared)


def _ipc(table: pa.Table) -> pa.Buffer:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def _on_part(function: Callable[..., Any], part: pa.Buffer, *shared: Any) -> Any:
    return function(pa.ipc.open_stream(part).read_all(), *shared)
