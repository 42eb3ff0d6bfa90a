"""One training and one deploy at a time across runs, whoever started them.

Does not touch: Dagster (two threads stand in for two runs: flock holds between them as it does
between processes, since each opens the file itself).
"""

import threading
import time
from pathlib import Path

from forge_pipeline.lib.core.run_lock import one_at_a_time


def test_a_second_run_waits_for_the_first_and_says_for_whom(tmp_path: Path):
    lock = tmp_path / "locks" / "training.lock"
    order: list[str] = []
    said: list[str] = []
    first_holds, second_asked = threading.Event(), threading.Event()

    def first() -> None:
        with one_at_a_time(lock, "run A's training", said.append):
            order.append("A starts")
            first_holds.set()
            second_asked.wait(10)
            time.sleep(0.2)  # B is blocked on the lock now, not yet inside
            order.append("A ends")

    def second() -> None:
        first_holds.wait(10)
        second_asked.set()
        with one_at_a_time(lock, "run B's training", said.append):
            order.append("B starts")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert order == ["A starts", "A ends", "B starts"]
    assert len(said) == 1 and "run A's training" in said[0]
    assert "run B's training" in lock.read_text()  # the last holder is named
