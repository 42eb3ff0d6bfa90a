"""Where the trainer runs: its architecture's Docker image, or a local process; same script."""

import os
import re
import sys
from pathlib import Path
from typing import Any

import dagster as dg

# Pipes raises these when the trainer exits non-zero (subprocess, container); neither is exported.
from dagster._core.errors import DagsterPipesExecutionError
from dagster_pipes import DagsterPipesError

from forge_pipeline.lib.copilot.gemini import KEY_ENV as GEMINI_KEY_ENV
from forge_pipeline.lib.core.config import Settings
from forge_pipeline.lib.training.containers import (
    FORGE_LABEL,
    RUN_LABEL,
    engine_answers,
    image_exists,
    remove_containers,
)
from forge_pipeline.lib.training.docker_images import image_tag
from forge_pipeline.lib.training.hardware import Hardware
from forge_pipeline.serving.names import ADMIN_TOKEN_ENV, API_KEY_ENV

TRAINER_MODULE = "forge_pipeline.training.train_lora"
OFFLINE = {"HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1"}
# Training reads local files only: none of these may reach it (the hub is offline too).
SECRET_ENVS = (GEMINI_KEY_ENV, ADMIN_TOKEN_ENV, API_KEY_ENV, "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")


class TrainerFailed(RuntimeError):
    """The trainer exited with an error; its exit status when known."""

    def __init__(self, message: str, exit_code: int | None):
        super().__init__(message)
        self.exit_code = exit_code


class TrainerLauncher(dg.ConfigurableResource):
    """Runs the trainer through Pipes: PipesDockerClient with the architecture's image when a
    GPU and a Docker engine are there (or docker.launcher says so), else PipesSubprocessClient."""

    def mode(self, settings: Settings, machine: Hardware) -> str:
        """docker or subprocess, from docker.launcher and the hardware."""
        if settings.docker.launcher != "auto":
            return settings.docker.launcher
        return "docker" if machine.gpu_count and engine_answers() else "subprocess"

    def image(self, settings: Settings, machine: Hardware) -> str:
        """docker.image, or forge:<arch> for the detected architecture."""
        chosen = settings.docker.image
        return image_tag(machine.architecture) if chosen == "auto" else chosen

    def where(self, settings: Settings, machine: Hardware) -> str:
        """Where training runs, in words for metadata."""
        if self.mode(settings, machine) == "docker":
            return f"docker: {self.image(settings, machine)}"
        return "local process"

    def run(
        self,
        context: dg.AssetExecutionContext,
        settings: Settings,
        machine: Hardware,
        train_config: dict[str, Any],
    ) -> None:
        """Train once; raise TrainerFailed with the exit status when the trainer fails."""
        extras = {"train_config": train_config}
        try:
            if self.mode(settings, machine) == "docker":
                _run_in_container(context, settings, machine, self.image(settings, machine), extras)
            else:
                dg.PipesSubprocessClient().run(
                    command=trainer_command(), context=context, extras=extras, env=OFFLINE
                )
        except (DagsterPipesExecutionError, DagsterPipesError) as exc:
            raise TrainerFailed(str(exc), _exit_code(exc)) from exc


def trainer_command() -> list[str]:
    """The local trainer's command line, with every secret unset before Python starts.

    PipesSubprocessClient hands the child all of os.environ whatever env it is given, so the
    secrets are removed by env(1) in the child itself, not from a dict Pipes merges away.
    """
    unset = [arg for name in SECRET_ENVS for arg in ("-u", name)]
    return ["env", *unset, sys.executable, "-m", TRAINER_MODULE]


def _run_in_container(
    context: dg.AssetExecutionContext,
    settings: Settings,
    machine: Hardware,
    image: str,
    extras: dict[str, Any],
) -> None:
    from dagster_docker import PipesDockerClient

    if not image_exists(image):
        raise dg.Failure(
            description=f"The trainer image {image} is not on this Docker engine: build it with "
            "`forge docker build`, or set docker.launcher: subprocess to train on the host."
        )
    container_kwargs = trainer_container(extras["train_config"], settings, context.run_id)
    if machine.gpu_count:
        container_kwargs["device_requests"] = [{"count": -1, "capabilities": [["gpu"]]}]
    context.log.info(f"Training in container image {image}")
    env = {**OFFLINE, "HF_HOME": "/tmp/hf", "HOME": "/tmp"}  # no secret, and no token file
    if hub := _hub_cache(extras["train_config"]["base_model"]):
        env["HF_HUB_CACHE"] = str(hub)
    try:
        PipesDockerClient().run(
            context=context,
            image=image,
            command=[settings.docker.python, "-m", TRAINER_MODULE],
            extras=extras,
            env=env,
            container_kwargs=container_kwargs,
        )
    finally:
        remove_containers(run_id=context.run_id)


def trainer_container(train_config: dict[str, Any], settings: Settings, run_id: str) -> dict:
    """The trainer container's settings: only the files training needs, no network, no
    privileges. Host paths appear at the same paths inside, so the config needs no translating.
    """
    read = [Path(train_config["train_file"]), Path(train_config["val_file"])]
    read += [Path(p) for p in settings.docker.mounts]
    if train_config.get("init_adapter"):
        read.append(Path(train_config["init_adapter"]))
    read.append(_hub_cache(train_config["base_model"]) or Path(train_config["base_model"]))
    written = [Path(train_config["output_dir"])]
    for key in ("checkpoint_dir", "failure_file"):
        if train_config.get(key):
            folder = Path(train_config[key])
            written.append(folder.parent if key == "failure_file" else folder)
    for folder in written:
        folder.mkdir(parents=True, exist_ok=True)
    volumes = {str(p): {"bind": str(p), "mode": "ro"} for p in read}
    volumes.update({str(p): {"bind": str(p), "mode": "rw"} for p in written})
    return {
        "volumes": volumes,
        "labels": {FORGE_LABEL: "true", RUN_LABEL: run_id},
        "user": f"{os.getuid()}:{os.getgid()}",  # artifacts stay the user's, not root's
        "network_mode": "none",  # the trainer reads local files only; nothing leaves
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
    }


def _hub_cache(base_model: str) -> Path | None:
    """The Hugging Face hub cache (never HF_HOME, which holds the token) for a hub model id."""
    if Path(base_model).is_absolute():
        return None
    home = Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface"))
    return Path(os.environ.get("HF_HUB_CACHE", home / "hub"))


def _exit_code(error: Exception) -> int | None:
    found = re.search(r"(?:code|'StatusCode':) (-?\d+)", str(error))
    return int(found.group(1)) if found else None
