"""Against a real Docker engine: training through PipesDockerClient, a failing container cleaned
up, and the images' build arguments (the whole job through DockerRunLauncher: test_scale_out).

Needs dockerd (started here if it can be; CI always can) and debootstrap the first time.
"""

import runpy
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import docker
import pytest
import yaml
from dagster._core.instance.ref import InstanceRef
from dagster_docker import DockerRunLauncher
from typer.testing import CliRunner

from forge_pipeline.cli import app
from forge_pipeline.lib.core.config import PROJECT_ROOT
from forge_pipeline.lib.training.containers import FORGE_LABEL, forge_containers
from forge_pipeline.lib.training.docker_images import TORCH_INDEXES, build_command, unresolved_args
from forge_pipeline_tests.docker_engine import (
    TEST_IMAGE,
    container_overrides,
)
from forge_pipeline_tests.helpers import (
    UPSTREAM,
    materialize_assets,
    metadata,
    tiny_overrides,
)

BIN = Path(sys.executable).parent


def in_docker(tiny_model: Path, **extra: str) -> dict[str, str]:
    return tiny_overrides(
        tiny_model,
        **{"docker.launcher": "docker", "training.max_steps": "10", **container_overrides()},
        **extra,
    )


@pytest.mark.docker
def test_lora_adapter_trains_in_a_container_and_streams_back(tiny_model: Path, test_image: str):
    overrides = in_docker(tiny_model)
    with dg.instance_for_test() as instance:
        assert materialize_assets(overrides, UPSTREAM, instance).success
        result = materialize_assets(overrides, ["lora_adapter"], instance)
        assert result.success
        streamed = [e.user_message for e in instance.all_logs(result.run_id)]
    adapter = metadata(result, "lora_adapter")
    assert adapter["steps"] == 10
    assert adapter["trained_in"] == f"docker: {TEST_IMAGE}"
    assert adapter["tuned_eval_loss"] < adapter["base_eval_loss"]
    assert any("Training in container image" in m for m in streamed)
    assert any('"loss"' in m for m in streamed), "the trainer's progress did not stream back"
    assert forge_containers() == []  # removed after the run


@pytest.mark.docker
def test_a_failing_container_is_removed_and_the_failure_reported(
    tiny_model: Path, test_image: str, tmp_path: Path
):
    overrides = in_docker(tiny_model)
    assert materialize_assets(overrides, UPSTREAM).success
    missing = tmp_path / "no-such-model"
    missing.mkdir()  # mounted, but holds no model
    result = materialize_assets({**overrides, "base_model": str(missing)}, ["lora_adapter"])
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "The base model was not found" in failure.step_failure_data.user_failure_data.description
    assert forge_containers() == []


@pytest.mark.docker
def test_a_missing_image_is_one_clear_sentence(tiny_model: Path, test_image: str):
    overrides = {**in_docker(tiny_model), "docker.image": "forge:no-such-arch"}
    assert materialize_assets(overrides, UPSTREAM).success
    result = materialize_assets(overrides, ["lora_adapter"])
    failure = next(e for e in result.all_events if e.is_step_failure)
    description = failure.step_failure_data.user_failure_data.description
    assert description.startswith("The trainer image forge:no-such-arch is not on this Docker")
    assert "forge docker build" in description


@pytest.mark.parametrize("architecture", sorted(TORCH_INDEXES))
def test_every_architecture_has_a_complete_image_build(architecture: str):
    assert unresolved_args(architecture) == []
    command = build_command(architecture)
    assert command[-3:] == ["-t", f"forge:{architecture}", str(PROJECT_ROOT)]
    index = next(a for a in command if a.startswith("--build-arg=TORCH_INDEX="))
    assert index.endswith(TORCH_INDEXES[architecture])
    extras = next(a for a in command if a.startswith("--build-arg=GPU_EXTRAS="))
    assert ("unsloth" in extras) == (architecture != "cpu")


@pytest.mark.docker
def test_every_architecture_builds_up_to_the_step_that_needs_the_network(test_image: str):
    # The real bases and wheel indexes cannot be reached here: the stage before them is built
    # for each architecture's arguments on the local image, through `docker build` itself.
    for architecture in sorted(TORCH_INDEXES):
        command = build_command(architecture, BASE_IMAGE=test_image)
        command[-3:-1] = ["-t", f"localhost/forge-source:{architecture}", "--target", "source"]
        built = subprocess.run(command, capture_output=True, text=True)
        assert built.returncode == 0, built.stdout[-1500:] + built.stderr[-1500:]
    image = docker.from_env().images.get("localhost/forge-source:cpu")
    assert image.attrs["Config"]["WorkingDir"] == "/opt/forge"


def test_the_dockerfile_lint_finds_an_undefined_argument(tmp_path: Path):
    broken = tmp_path / "Dockerfile"
    broken.write_text("FROM ${BASE_IMAGE}\nRUN pip install ${TORCH_SPEC} ${CUDA_VERSION}\n")
    assert unresolved_args("cpu", broken) == ["CUDA_VERSION"]


def test_the_scale_out_instance_and_compose_file_hold_together(monkeypatch):
    for name in ("HOST", "PORT", "USER", "PASSWORD", "DB"):
        monkeypatch.setenv(f"DAGSTER_POSTGRES_{name}", "5432" if name == "PORT" else "forge")
    instance = InstanceRef.from_dir(str(PROJECT_ROOT / "docker"))  # validates docker/dagster.yaml
    assert instance.storage_data.class_name == "DagsterPostgresStorage"
    launcher = instance.run_launcher_data.rehydrate(as_type=DockerRunLauncher)
    assert launcher.image == "forge:scale" and launcher.networks == ["forge"]
    assert launcher.container_kwargs["device_requests"][0]["capabilities"] == [["gpu"]]
    assert "GEMINI_API_KEY" not in launcher.env_vars  # never a secret in a container's config
    compose = yaml.safe_load((PROJECT_ROOT / "docker" / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"postgres", "webserver", "daemon"}
    for name in ("webserver", "daemon"):
        assert services[name]["image"] == launcher.image
        assert "./dagster.yaml:/opt/dagster_home/dagster.yaml:ro" in services[name]["volumes"]
    assert services["webserver"]["ports"] == ["127.0.0.1:3000:3000"]
    socket = "/var/run/docker.sock:/var/run/docker.sock"
    assert (
        socket not in services["webserver"]["volumes"] and socket in services["daemon"]["volumes"]
    )
    assert set(services["daemon"]["volumes"]) - {socket} == set(services["webserver"]["volumes"])
    text = (PROJECT_ROOT / "docker" / "compose.yaml").read_text()
    assert "DAGSTER_POSTGRES_PASSWORD:-" not in text  # no default password
    mounted = {v.split(":")[0] for v in launcher.container_kwargs["volumes"]}
    assert mounted <= set(compose["volumes"])


def test_forge_docker_detect_names_the_cpu_image_here():
    result = CliRunner().invoke(app, ["docker", "detect"])
    assert result.exit_code == 0, result.output
    assert "architecture: cpu" in result.output and "image:        forge:cpu" in result.output


@pytest.mark.docker
def test_forge_container_commands_touch_only_forge_containers(test_image: str):
    client = docker.from_env()
    sleeper = [
        sys.executable,
        "-c",
        "print('hello from forge', flush=True); import time; time.sleep(60)",
    ]
    volumes = {p: {"bind": p, "mode": "ro"} for p in {sys.prefix, sys.base_prefix}}
    ours = client.containers.run(
        test_image, sleeper, detach=True, labels={FORGE_LABEL: "true"}, volumes=volumes
    )
    theirs = client.containers.run(test_image, sleeper, detach=True, volumes=volumes)
    try:
        listed = CliRunner().invoke(app, ["container", "list"])
        assert ours.short_id in listed.output and theirs.short_id not in listed.output
        status = CliRunner().invoke(app, ["container", "status"])
        assert "engine: answers" in status.output and "containers: 1 running" in status.output
        time.sleep(2)
        logs = CliRunner().invoke(app, ["container", "logs", ours.short_id])
        assert "hello from forge" in logs.output
        refused = CliRunner().invoke(app, ["container", "logs", theirs.short_id])
        assert refused.exit_code == 1 and "not started by Forge" in refused.output
        stopped_only = CliRunner().invoke(app, ["container", "cleanup"])
        assert "removed 0 container(s)" in stopped_only.output
        cleaned = CliRunner().invoke(app, ["container", "cleanup", "--running"])
        assert f"removed 1 container(s): {ours.name}" in cleaned.output
        remaining = {c.id for c in client.containers.list(all=True)}
        assert theirs.id in remaining and ours.id not in remaining
    finally:
        theirs.remove(force=True)


def test_the_gpu_images_constraints_admit_every_torch_build_and_pin_the_rest():
    from packaging.requirements import Requirement

    script = runpy.run_path(str(PROJECT_ROOT / "docker" / "image_constraints.py"))
    lock = (PROJECT_ROOT / "requirements.lock").read_text().splitlines()
    constraints = script["image_constraints"]("\n".join(lock)).splitlines()
    assert len(constraints) == len(lock)
    pins = {Requirement(line).name: Requirement(line).specifier for line in constraints}
    for build in ("2.13.0+cu126", "2.13.0+cu128", "2.13.0+cpu"):
        assert pins["torch"].contains(build)
    assert not Requirement(next(x for x in lock if x.startswith("torch=="))).specifier.contains(
        "2.13.0+cu126"
    )  # why the image needs its own constraints
    assert [c for c, line in zip(constraints, lock, strict=True) if c != line] == ["torch==2.13.0"]
    dockerfile = (PROJECT_ROOT / "docker" / "Dockerfile").read_text()
    assert dockerfile.count("-c /tmp/constraints.txt") == 2  # the project and the GPU extras


def test_the_trainer_container_sees_only_what_training_needs(tmp_path: Path):
    from forge_pipeline.defs.training.launcher import trainer_container
    from forge_pipeline.lib.core.config import load_settings

    settings = load_settings()
    checkpoints = settings.home / "artifacts" / "checkpoints"
    config = {
        "base_model": str(tmp_path / "models" / "base"),
        "train_file": str(settings.home / "artifacts" / "curated" / "train.jsonl"),
        "val_file": str(settings.home / "artifacts" / "curated" / "val.jsonl"),
        "output_dir": str(settings.home / "artifacts" / ".lora_adapter.tmp"),
        "checkpoint_dir": str(checkpoints / "abc123"),
        "failure_file": str(checkpoints / "failure.txt"),
    }
    kwargs = trainer_container(config, settings, "run-1")
    modes = {path: volume["mode"] for path, volume in kwargs["volumes"].items()}
    assert modes == {
        config["train_file"]: "ro",
        config["val_file"]: "ro",
        config["base_model"]: "ro",
        config["output_dir"]: "rw",
        config["checkpoint_dir"]: "rw",
        str(checkpoints): "rw",
    }
    assert str(settings.home) not in modes and str(settings.cache) not in modes
    assert kwargs["network_mode"] == "none"
    assert kwargs["cap_drop"] == ["ALL"] and kwargs["security_opt"] == ["no-new-privileges"]
    hub = trainer_container({**config, "base_model": "org/model"}, settings, "run-1")["volumes"]
    assert all(not Path(p).joinpath("token").exists() or v["mode"] == "ro" for p, v in hub.items())
    assert not any(p.endswith("huggingface") for p in hub)  # the hub cache, never HF_HOME
    warm = {**config, "init_adapter": str(settings.home / "artifacts" / "lora_adapter")}
    volumes = trainer_container(warm, settings, "run-1")["volumes"]
    assert volumes[warm["init_adapter"]]["mode"] == "ro"  # the adapter a warm start continues
