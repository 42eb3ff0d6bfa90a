"""A real PostgreSQL server for the scale-out tests: Debian's postgresql, on 127.0.0.1."""

import glob
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import psycopg2

from forge_pipeline_tests.helpers import free_port

USER = "forge"
PASSWORD = "forge-test"  # trust authentication: any password is accepted, the config needs one
INITDB = "/usr/lib/postgresql/*/bin/initdb"


@dataclass(frozen=True)
class Postgres:
    """Where the test server listens, as docker/dagster.yaml's DAGSTER_POSTGRES_* variables."""

    host: str
    port: int
    database: str = "postgres"

    def env(self) -> dict[str, str]:
        return {
            "DAGSTER_POSTGRES_HOST": self.host,
            "DAGSTER_POSTGRES_PORT": str(self.port),
            "DAGSTER_POSTGRES_USER": USER,
            "DAGSTER_POSTGRES_PASSWORD": PASSWORD,
            "DAGSTER_POSTGRES_DB": self.database,
        }

    def fresh_database(self, name: str) -> "Postgres":
        """A new, empty database on this server: each test's instance starts with no history."""
        connection = _connect(self)
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
        connection.close()
        return replace(self, database=name)


def server_installed() -> bool:
    return bool(glob.glob(INITDB))


def server_bin() -> Path:
    """The folder of initdb and pg_ctl (Debian keeps them out of PATH), newest version."""
    return Path(sorted(glob.glob(INITDB))[-1]).parent


def _as_postgres(command: list[str]) -> list[str]:
    """The server refuses to run as root: run it as the postgres user when we are root."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@contextmanager
def running_postgres() -> Iterator[Postgres]:
    """A fresh cluster in a temporary folder, on a free port; stopped and removed after."""
    folder = Path(tempfile.mkdtemp(prefix="forge-postgres-"))
    data = folder / "data"
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    pg = server_bin()
    port = free_port()
    subprocess.run(
        _as_postgres([str(pg / "initdb"), "-D", str(data), "-A", "trust", "-U", USER]),
        check=True,
        capture_output=True,
    )
    options = f"-k {folder} -h 127.0.0.1 -p {port}"
    log = folder / "server.log"
    start = [str(pg / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(log), "-w", "start"]
    subprocess.run(_as_postgres(start), check=True, capture_output=True)
    try:
        server = Postgres("127.0.0.1", port)
        _wait_until_up(server)
        yield server
    finally:
        stop = [str(pg / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]
        subprocess.run(_as_postgres(stop), capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def _wait_until_up(server: Postgres) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            _connect(server).close()
            return
        except psycopg2.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _connect(server: Postgres):
    return psycopg2.connect(host=server.host, port=server.port, user=USER, dbname="postgres")
