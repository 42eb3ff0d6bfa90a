"""`forge docker` and `forge container`: trainer images and the containers Forge started."""

import subprocess

import typer
from rich.table import Table

from forge_pipeline.cli.app import app, console, fail
from forge_pipeline.lib.training.containers import (
    ContainerError,
    DockerUnavailable,
    container_logs,
    engine_answers,
    forge_containers,
    image_exists,
    remove_containers,
)
from forge_pipeline.lib.training.docker_images import build_command, image_tag
from forge_pipeline.lib.training.hardware import detect_hardware

docker_app = typer.Typer(help="Trainer images: the one for this machine, and building it.")
container_app = typer.Typer(help="The containers Forge started (and only those).")
app.add_typer(docker_app, name="docker")
app.add_typer(container_app, name="container")


@docker_app.command("detect")
def docker_detect() -> None:
    """The GPU architecture here and the trainer image it maps to."""
    machine = detect_hardware()
    tag = image_tag(machine.architecture)
    console.print(f"architecture: {machine.architecture}\nimage:        {tag}")
    console.print(
        f"build it:     forge docker build   ({' '.join(build_command(machine.architecture))})"
    )


@docker_app.command("build")
def docker_build(
    no_cache: bool = typer.Option(False, "--no-cache", help="Rebuild every layer."),
    architecture: str = typer.Option(None, help="Default: the detected one."),
) -> None:
    """Build forge:<arch> from docker/Dockerfile with that architecture's build arguments."""
    chosen = architecture or detect_hardware().architecture
    try:
        command = build_command(chosen, no_cache)
    except ValueError as exc:
        fail(exc)
    console.print(" ".join(command))
    if subprocess.run(command).returncode:
        fail(RuntimeError(f"docker build of {image_tag(chosen)} failed (its output is above)."))
    console.print(f"built {image_tag(chosen)}")


@container_app.command("list")
def container_list() -> None:
    """Forge's containers, running or stopped."""
    try:
        found = forge_containers()
    except ContainerError as exc:
        fail(exc)
    table = Table("id", "name", "image", "status", "dagster run")
    for container in found:
        table.add_row(
            container.id, container.name, container.image, container.status, container.run_id
        )
    console.print(table if found else "No Forge containers.")


@container_app.command("status")
def container_status() -> None:
    """Whether a Docker engine answers, this machine's trainer image, and Forge's containers."""
    if not engine_answers():
        fail(
            DockerUnavailable("No Docker engine answers (is dockerd running, DOCKER_HOST right?).")
        )
    tag = image_tag(detect_hardware().architecture)
    console.print(
        f"engine: answers\nimage:  {tag} ({'built' if image_exists(tag) else 'not built'})"
    )
    found = forge_containers()
    running = [c for c in found if c.status == "running"]
    console.print(f"containers: {len(running)} running, {len(found) - len(running)} stopped")


@container_app.command("logs")
def container_logs_command(
    container: str = typer.Argument(..., help="Id or name, from `forge container list`."),
    tail: int = typer.Option(200, help="Lines from the end."),
) -> None:
    """The last lines a Forge container printed."""
    try:
        console.print(container_logs(container, tail), markup=False, highlight=False)
    except ContainerError as exc:
        fail(exc)
    except Exception as exc:  # docker.errors.NotFound and friends
        fail(RuntimeError(f"No container {container!r}: {exc}"))


@container_app.command("cleanup")
def container_cleanup(
    running: bool = typer.Option(False, "--running", help="Also stop and remove running ones."),
) -> None:
    """Remove Forge's stopped containers (and running ones with --running)."""
    try:
        removed = remove_containers(running_too=running)
    except ContainerError as exc:
        fail(exc)
    console.print(
        f"removed {len(removed)} container(s){': ' if removed else ''}{', '.join(removed)}"
    )
