"""Trainer callbacks: progress reported as events, a time budget kept by the measured pace."""

import math
import time
from collections.abc import Callable
from typing import Any

from transformers import TrainerCallback

Reporter = Callable[[dict[str, Any]], None]
MEASURE_STEPS = 3  # steps timed before the budget decides how many fit


class Progress(TrainerCallback):
    """Each logged step as an event: loss, learning rate, tokens per second, time left."""

    def __init__(self, report: Reporter) -> None:
        self.report = report
        self.started = time.perf_counter()

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not logs or "loss" not in logs:
            return
        if not math.isfinite(float(logs["loss"])):
            step = state.global_step
            raise FloatingPointError(f"non-finite loss ({logs['loss']}) at step {step}")
        elapsed = time.perf_counter() - self.started
        left = elapsed / max(state.global_step, 1) * (state.max_steps - state.global_step)
        self.report(
            {
                "step": state.global_step,
                "max_steps": state.max_steps,
                "loss": round(float(logs["loss"]), 4),
                "learning_rate": float(logs.get("learning_rate", 0.0)),
                "tokens_per_s": round(state.num_input_tokens_seen / max(elapsed, 1e-9), 1),
                "eta_s": round(left, 1),
            }
        )


class TimeBudget(TrainerCallback):
    """Stop at the last step that fits the budget, judged from the pace of the first steps."""

    def __init__(self, budget_s: float, report: Reporter, clock=time.perf_counter) -> None:
        self.budget_s, self.report, self.clock = budget_s, report, clock
        self.cap: int | None = None
        self.first_step = 0
        self.started = 0.0

    def on_train_begin(self, args, state, control, **kwargs):
        self.first_step, self.started = state.global_step, self.clock()

    def on_step_end(self, args, state, control, **kwargs):
        done = state.global_step - self.first_step
        if self.cap is None and done == MEASURE_STEPS:
            per_step = (self.clock() - self.started) / done
            fits = state.global_step + int((self.budget_s - per_step * done) / per_step)
            if fits < state.max_steps:
                self.cap = max(state.global_step, fits)
                self.report(
                    {
                        "event": "time_budget",
                        "s_per_step": round(per_step, 2),
                        "planned_steps": state.max_steps,
                        "budget_steps": self.cap,
                    }
                )
        if self.cap is not None and state.global_step >= self.cap:
            control.should_training_stop = True
