"""Locks across processes: one training, deploy or registry change at a time, from any entry."""

import fcntl
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def one_at_a_time(path: Path, holder: str, log: Callable[[str], None]) -> Iterator[None]:
    """Hold an exclusive lock on path for the block; wait, saying for whom, while another holds it.

    Dagster's run queue limits the runs it launches itself; `dagster job execute`, `forge run`
    and in-process runs bypass it, so the stage locks for itself. The kernel drops the lock when
    its process dies, so a crash never leaves a stale one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            log(f"Waiting for {handle.read().strip() or 'another run'} to finish ({path.name}).")
            fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        handle.truncate()
        handle.write(f"{holder} (pid {os.getpid()})")
        handle.flush()
        yield
