"""Worker processes and the paused cycle collector that bulk per-note work runs under.

Does not touch: notes, Dagster.
"""

import gc
import os

import pytest

from forge_pipeline.lib.core import workers
from forge_pipeline.lib.core.gc_pause import cycle_collector_paused


def worker_pid(chunk: list[int], offset: int) -> tuple[int, list[int]]:
    """The worker's process id, and the chunk shifted (a pool needs an importable function)."""
    return os.getpid(), [n + offset for n in chunk]


@pytest.mark.skipif(workers.WORKERS < 2, reason="one core: no worker processes are started")
def test_workers_start_once_and_keep_the_order():
    chunks = [[n] for n in range(12)]
    first = workers.map_in_workers(worker_pid, chunks, 100)
    second = workers.map_in_workers(worker_pid, chunks, 0)
    assert [out for _, out in first] == [[n + 100] for n in range(12)]
    assert [out for _, out in second] == chunks
    pids = {pid for pid, _ in first + second}
    assert os.getpid() not in pids
    assert len(pids) <= workers.WORKERS  # the second call reused the first call's workers


def test_collector_paused_inside_and_restored_after_an_error():
    assert gc.isenabled()
    with pytest.raises(ValueError), cycle_collector_paused():
        assert not gc.isenabled()
        raise ValueError("a note that fails")
    assert gc.isenabled()
    gc.disable()
    try:
        with cycle_collector_paused():
            pass
        assert not gc.isenabled()  # left as the caller had it
    finally:
        gc.enable()
