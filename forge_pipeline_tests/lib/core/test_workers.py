"""Worker processes and the paused cycle collector that bulk per-note work runs under.

Does not touch: notes, Dagster.
"""

import gc
import os

import pyarrow as pa
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


def rows_of(part: pa.Table, label: str) -> tuple[str, list, int]:
    """A part's rows and the bytes of Arrow data it arrived with."""
    return label, part["n"].to_pylist(), part.get_total_buffer_size()


@pytest.mark.skipif(workers.WORKERS < 2, reason="one core: no worker processes are started")
def test_a_table_goes_to_workers_in_order_each_part_with_only_its_own_rows():
    table = pa.concat_tables(  # several chunks, as a table read from disk and merged has
        [pa.table({"n": range(start, start + 500), "s": ["x" * 100] * 500}) for start in (0, 500)]
    )
    found = workers.map_table_in_workers(rows_of, table, "shared")
    assert [n for _, rows, _ in found for n in rows] == list(range(1000))
    assert {label for label, _, _ in found} == {"shared"} and len(found) > 2
    # A pickled slice would carry the whole table's buffers to every worker.
    assert sum(size for _, _, size in found) < 1.5 * table.get_total_buffer_size()


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
