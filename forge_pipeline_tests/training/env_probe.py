"""A stand-in trainer launched through Pipes: writes which secrets its process was started with."""

import json
from pathlib import Path

from dagster_pipes import open_dagster_pipes

from forge_pipeline.defs.training.launcher import SECRET_ENVS

if __name__ == "__main__":
    with open_dagster_pipes() as pipes:
        out = Path(pipes.get_extra("train_config")["output_dir"])
        # The environment the process started with, not os.environ (which Python could edit).
        started_with = Path("/proc/self/environ").read_bytes().split(b"\0")
        names = {entry.split(b"=", 1)[0].decode() for entry in started_with if entry}
        out.write_text(json.dumps({"secrets": sorted(names & set(SECRET_ENVS)), "all": len(names)}))
