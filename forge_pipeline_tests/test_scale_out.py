"""The scale-out instance for real: docker/dagster.yaml's Postgres storage on a real PostgreSQL,
runs in containers through DockerRunLauncher, and two runs at once through the GraphQL API.

Needs a Docker engine and Debian's PostgreSQL server (`.ci/run` installs and starts both).
"""

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import docker
import pytest
import requests
import yaml
from dagster_graphql import DagsterGraphQLClient

from forge_pipeline.lib.core.config import PROJECT_ROOT, env_name
from forge_pipeline_tests.docker_engine import TEST_IMAGE
from forge_pipeline_tests.helpers import SHARED_CACHE, free_port, graphql, tiny_overrides
from forge_pipeline_tests.postgres_server import Postgres, running_postgres, server_installed

BIN = Path(sys.executable).parent
SCALE_OUT = yaml.safe_load((PROJECT_ROOT / "docker" / "dagster.yaml").read_text())
RUN_TIMEOUT_S = 900


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    if not server_installed():
        reason = "PostgreSQL's server is not installed (apt-get install postgresql)"
        pytest.fail(reason) if os.environ.get("CI") else pytest.skip(reason)
    with running_postgres() as server:
        yield server


@pytest.fixture
def database(postgres: Postgres, request: pytest.FixtureRequest) -> Postgres:
    """An empty database for this test alone: no runs or materializations from another test."""
    return postgres.fresh_database(request.node.name.split("[")[0][:60])


def scale_out_instance(
    home: Path, tiny_model: Path, database: Postgres, queued: bool, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """docker/dagster.yaml as it is, but for the test image, this checkout's mounts and no GPU.

    Storage, the run queue and the pools are docker/dagster.yaml's own. The run containers use
    the host's network, where the test's PostgreSQL listens on 127.0.0.1. The test itself reads
    the same instance. Returns what the webserver, the daemon and every run container see.
    """
    variables = {env_name(k): v for k, v in tiny_overrides(tiny_model).items()}
    variables.update(FORGE_HOME=str(home), FORGE_CACHE_DIR=str(SHARED_CACHE))
    variables.update(DAGSTER_HOME=str(home / "dagster"), HF_HUB_OFFLINE="1")
    variables["PATH"] = f"{BIN}:/usr/local/bin:/usr/bin:/bin"
    variables.update(database.env())
    for name, value in database.env().items():
        monkeypatch.setenv(name, value)  # the test reads Postgres too, not SQLite
    config = {**SCALE_OUT}
    mounts = {PROJECT_ROOT, Path(sys.prefix), Path(sys.base_prefix), home, tiny_model}
    config["run_launcher"] = {
        **SCALE_OUT["run_launcher"],
        "config": {
            "image": TEST_IMAGE,
            "env_vars": [f"{k}={v}" for k, v in variables.items()],
            "container_kwargs": {
                "volumes": {str(m): {"bind": str(m), "mode": "rw"} for m in mounts},
                "working_dir": str(PROJECT_ROOT),
                "network_mode": "host",
                "auto_remove": True,
            },
        },
    }
    if not queued:  # `dagster job launch` with no daemon: launch at once
        config["run_coordinator"] = {
            "module": "dagster.core.run_coordinator",
            "class": "DefaultRunCoordinator",
        }
    (home / "dagster" / "dagster.yaml").write_text(yaml.safe_dump(config))
    return variables


def wait_for(instance: dg.DagsterInstance, run_ids: list[str]) -> list[dg.DagsterRun]:
    """The runs, once every one has finished (or the timeout has passed)."""
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while True:
        runs = [instance.get_run_by_id(run_id) for run_id in run_ids]
        if all(r and r.is_finished for r in runs) or time.monotonic() > deadline:
            return [r for r in runs if r]
        time.sleep(3)


def last_logs(instance: dg.DagsterInstance, run: dg.DagsterRun) -> list[str]:
    return [e.user_message for e in instance.all_logs(run.run_id)][-15:]


def no_containers_left(run_ids: list[str], within_s: float = 60) -> bool:
    """Whether every run's container is gone within `within_s` seconds."""
    # The run worker records SUCCESS before its process exits; auto_remove follows the exit.
    client = docker.from_env()
    deadline = time.monotonic() + within_s
    while any(
        client.containers.list(all=True, filters={"label": f"dagster/run_id={run_id}"})
        for run_id in run_ids
    ):
        if time.monotonic() > deadline:
            return False
        time.sleep(1)
    return True


@pytest.mark.docker
def test_forge_full_runs_in_a_container_on_postgres(
    tiny_model: Path,
    test_image: str,
    database: Postgres,
    forge_env: Path,
    monkeypatch: pytest.MonkeyPatch,
):
    variables = scale_out_instance(forge_env, tiny_model, database, False, monkeypatch)
    launched = subprocess.run(
        [str(BIN / "dagster"), "job", "launch", "-m", "forge_pipeline.definitions"]
        + ["-j", "forge_full"],
        env={**os.environ, **variables},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert launched.returncode == 0, launched.stderr[-2000:]
    with dg.DagsterInstance.get() as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        (run,) = wait_for(instance, [instance.get_runs(limit=1)[0].run_id])
        assert run.status == dg.DagsterRunStatus.SUCCESS, last_logs(instance, run)
        done = instance.get_latest_materialization_event(dg.AssetKey("deployed_model"))
    assert done is not None and done.run_id == run.run_id
    assert no_containers_left([run.run_id])


@contextmanager
def running(command: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    with log.open("a") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def webserver(port: int, env: dict[str, str], log: Path):
    workspace = str(PROJECT_ROOT / "workspace.yaml")
    command = [str(BIN / "dagster-webserver"), "-w", workspace, "-h", "127.0.0.1"]
    return running([*command, "-p", str(port)], env, log)


def wait_until_serving(url: str, log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/server_info", timeout=2).ok:
                return
        except requests.ConnectionError:
            pass
        time.sleep(1)
    pytest.fail(f"the webserver did not start: {log.read_text()[-2000:]}")


HISTORY = """{ runsOrError { ... on Runs { results { runId status } } } }"""
LINEAGE = """{ assetNodes { assetKey { path } dependencyKeys { path } }
  deployed: assetOrError(assetKey: {path: ["deployed_model"]}) {
    ... on Asset { assetMaterializations(limit: 10) { runId } } }
  curated: assetOrError(assetKey: {path: ["curated_dataset"]}) {
    ... on Asset { assetMaterializations(limit: 10) { runId } } } }"""


@pytest.mark.docker
def test_two_runs_at_once_through_graphql_queue_on_the_training_pool(
    tiny_model: Path,
    test_image: str,
    database: Postgres,
    forge_env: Path,
    monkeypatch: pytest.MonkeyPatch,
):
    variables = scale_out_instance(forge_env, tiny_model, database, True, monkeypatch)
    env = {**os.environ, **variables}
    port, log = free_port(), forge_env / "services.log"
    url = f"http://127.0.0.1:{port}"
    pools = subprocess.run([str(BIN / "forge"), "pools"], env=env, capture_output=True, text=True)
    assert "limit set from the default" in pools.stdout, pools.stdout + pools.stderr
    daemon = [str(BIN / "dagster-daemon"), "run", "-w", str(PROJECT_ROOT / "workspace.yaml")]
    with running(daemon, env, log), webserver(port, env, log):
        wait_until_serving(url, log)
        client = DagsterGraphQLClient("127.0.0.1", port_number=port)
        run_ids = [client.submit_job_execution("forge_full") for _ in range(2)]
        with dg.DagsterInstance.get() as instance:
            runs = wait_for(instance, run_ids)
            for run in runs:
                assert run.status == dg.DagsterRunStatus.SUCCESS, last_logs(instance, run)
            first, second = sorted(
                (instance.get_run_record_by_id(r) for r in run_ids),
                key=lambda record: record.start_time or 0,
            )
            # The training pool holds one run: the second started only after the first ended.
            assert first.end_time and second.start_time
            assert second.start_time >= first.end_time
            queued = [
                e
                for e in instance.all_logs(second.dagster_run.run_id)
                if e.dagster_event and e.dagster_event.event_type_value == "PIPELINE_ENQUEUED"
            ]
            assert queued, "the second run was not queued"
    assert no_containers_left(run_ids)
    # History and lineage live in Postgres: a fresh webserver still shows both.
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with webserver(port, env, log):
        wait_until_serving(url, log)
        runs = graphql(url, HISTORY, timeout=30)["runsOrError"]["results"]
        history = {r["runId"]: r["status"] for r in runs}
        assert all(history.get(run_id) == "SUCCESS" for run_id in run_ids), history
        lineage = graphql(url, LINEAGE, timeout=30)
    upstream = {
        tuple(n["assetKey"]["path"]): {tuple(d["path"]) for d in n["dependencyKeys"]}
        for n in lineage["assetNodes"]
    }
    assert ("model_evaluation",) in upstream[("deployed_model",)]
    assert ("reflection_examples",) in upstream[("curated_dataset",)]

    def runs_of(asset: str) -> set[str]:
        return {m["runId"] for m in lineage[asset]["assetMaterializations"]}

    assert set(run_ids) <= runs_of("curated")
    # The second run found the curated set unchanged: it skipped training, export and deploy.
    assert runs_of("deployed") == {first.dagster_run.run_id}
