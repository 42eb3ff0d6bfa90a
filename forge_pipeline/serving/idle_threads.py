"""How long llama.cpp's idle OpenMP threads spin while serving, set before llama.cpp loads."""

import os

SPIN_COUNT_ENV = "GOMP_SPINCOUNT"
# libgomp's default is 300,000 spins (milliseconds of a busy core) before an idle thread sleeps.
# Between two streamed tokens that spinning holds a core the event loop and the client need, so
# on 2 cores the API ran at half the in-process speed; 10,000 still spans llama.cpp's barriers.
SERVING_SPIN_COUNT = "10000"


def spin_briefly_when_idle() -> None:
    """Have libgomp's idle threads sleep sooner (a user's own GOMP_SPINCOUNT wins).

    libgomp reads it once, when it is loaded: call this before llama_cpp is first imported.
    """
    os.environ.setdefault(SPIN_COUNT_ENV, SERVING_SPIN_COUNT)
