"""Trainer checkpoints: the newest complete one, its step, and the tokens seen by then."""

import json
from pathlib import Path


def latest_checkpoint(folder: Path) -> Path | None:
    """The newest complete checkpoint-N under folder (N compared as a number), if any."""
    if not folder.is_dir():
        return None
    complete = [
        path
        for path in folder.glob("checkpoint-*")
        if path.name.removeprefix("checkpoint-").isdigit()
        and (path / "trainer_state.json").exists()
        and (path / "adapter_model.safetensors").exists()
    ]
    return max(complete, key=step_of, default=None)


def step_of(checkpoint: Path | None) -> int:
    """The step a checkpoint was saved at (0 for none)."""
    return int(checkpoint.name.removeprefix("checkpoint-")) if checkpoint else 0


def tokens_seen(checkpoint: Path | None) -> int:
    """Input tokens the trainer had seen when it saved the checkpoint (0 for none)."""
    if checkpoint is None:
        return 0
    state = json.loads((checkpoint / "trainer_state.json").read_text())
    return int(state.get("num_input_tokens_seen", 0))
