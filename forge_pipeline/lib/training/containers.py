"""The Docker containers Forge starts: labelled, listed, their logs, removed; nobody else's."""

from dataclasses import dataclass

FORGE_LABEL = "forge.managed"
RUN_LABEL = "forge.run_id"


class ContainerError(RuntimeError):
    """A container operation Forge refuses or cannot do."""


class DockerUnavailable(ContainerError):
    """No Docker engine answers."""


@dataclass
class ForgeContainer:
    """One container Forge started."""

    id: str
    name: str
    image: str
    status: str
    run_id: str


def _client():
    import docker  # here: only Docker users pay for importing it

    try:
        client = docker.from_env(timeout=10)
        client.ping()
    except Exception as exc:  # docker.errors.DockerException, or a refused socket
        raise DockerUnavailable(
            "No Docker engine answers (is dockerd running, and DOCKER_HOST right?)."
        ) from exc
    return client


def engine_answers() -> bool:
    """Whether a Docker engine answers here."""
    try:
        _client()
    except DockerUnavailable:
        return False
    return True


def image_exists(image: str) -> bool:
    """Whether the engine holds this image locally (Forge never pulls one)."""
    from docker.errors import ImageNotFound

    try:
        _client().images.get(image)
    except ImageNotFound:
        return False
    return True


def _labelled(run_id: str | None) -> list:
    """docker-py containers carrying Forge's label (of one Dagster run, if given)."""
    labels = [f"{FORGE_LABEL}=true", *([f"{RUN_LABEL}={run_id}"] if run_id else [])]
    return _client().containers.list(all=True, filters={"label": labels})


def forge_containers(run_id: str | None = None) -> list[ForgeContainer]:
    """Containers carrying Forge's label (of one Dagster run, if given), running or not."""
    return [
        ForgeContainer(
            c.id[:12],
            c.name,
            c.attrs["Config"]["Image"],
            c.status,
            c.labels.get(RUN_LABEL, ""),
        )
        for c in _labelled(run_id)
    ]


def container_logs(container_id: str, tail: int = 200) -> str:
    """The last lines of a Forge container's output; refuses containers that are not Forge's."""
    container = _client().containers.get(container_id)
    if container.labels.get(FORGE_LABEL) != "true":
        raise ContainerError(f"Container {container_id} was not started by Forge; not touching it.")
    return container.logs(tail=tail).decode(errors="replace")


def remove_containers(run_id: str | None = None, running_too: bool = True) -> list[str]:
    """Remove Forge's containers (of one run, if given); the names removed."""
    removed = []
    for container in _labelled(run_id):
        if container.status == "running" and not running_too:
            continue
        container.remove(force=True)
        removed.append(container.name)
    return removed
