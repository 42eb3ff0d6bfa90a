"""How a training run fails on purpose: a memory limit, injected failures, exit statuses."""

import errno
import os
import sys
import threading
import time
import traceback
from pathlib import Path

from forge_pipeline.lib.training.healing import DISK_FULL_EXIT, OUT_OF_MEMORY_EXIT
from forge_pipeline.training.train_config import TrainConfig

FAILURE_TAIL_CHARS = 4000
MEMORY_POLL_S = 0.01


def watch_memory(limit_mb: int, failure_file: str) -> None:
    """Stop the trainer, as the kernel's OOM killer would, once its resident memory passes
    limit_mb, so a plan too big for the machine is healed instead of pushing it into swap."""
    statm = Path("/proc/self/statm")
    if limit_mb <= 0 or not statm.exists():  # resident memory is read from Linux's /proc
        return
    page = os.sysconf("SC_PAGE_SIZE")

    def watch() -> None:
        while (resident_mb := int(statm.read_text().split()[1]) * page >> 20) <= limit_mb:
            time.sleep(MEMORY_POLL_S)
        message = (
            f"MemoryLimitExceeded: out of memory: the trainer's resident memory reached "
            f"{resident_mb} MB, over training.memory_limit_mb ({limit_mb} MB)"
        )
        print(message, file=sys.stderr, flush=True)
        if failure_file:
            Path(failure_file).write_text(message)
        os._exit(OUT_OF_MEMORY_EXIT)

    threading.Thread(target=watch, name="memory-limit", daemon=True).start()


def inject_failure(cfg: TrainConfig) -> None:
    """FORGE_TRAIN_INJECT (tests only): oom:N or odd:N (no rule knows it) above batch N; bf16."""
    import torch

    inject = os.environ.get("FORGE_TRAIN_INJECT", "")
    if inject.startswith("oom:") and cfg.batch_size > int(inject.split(":")[1]):
        raise torch.OutOfMemoryError(
            "CUDA out of memory. Tried to allocate 2.00 GiB (injected by FORGE_TRAIN_INJECT)"
        )
    if inject.startswith("odd:") and cfg.batch_size > int(inject.split(":")[1]):
        raise RuntimeError("cuDNN frobnicator stalled in a grouped kernel (FORGE_TRAIN_INJECT)")
    if inject == "bf16" and cfg.precision == "bf16":
        raise RuntimeError("bf16 is not supported on this device (injected by FORGE_TRAIN_INJECT)")


def write_failure_tail(failure_file: str) -> None:
    """The tail of the traceback being handled, where the launcher reads it to heal the run."""
    if not failure_file:
        return
    try:
        Path(failure_file).write_text(traceback.format_exc()[-FAILURE_TAIL_CHARS:])
    except OSError:
        pass  # a full disk: the exit status says so (exit_status)


def exit_status(error: BaseException) -> int:
    """The trainer's exit status for a failure: DISK_FULL_EXIT when a disk filled up, else 1."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in (errno.ENOSPC, errno.EDQUOT):
            return DISK_FULL_EXIT
        seen = seen.__cause__ or seen.__context__
    return 1
