"""The nightly schedule and the vault sensor, evaluated against a real Dagster instance.

Does not touch: training (the chain's skip on an unchanged vault is in test_chain_tiny.py).
"""

import datetime as dt
import shutil
from pathlib import Path

import dagster as dg

from forge_pipeline.definitions import defs
from forge_pipeline.defs.automation.definitions import nightly_schedule
from forge_pipeline.lib.core.config import load_settings
from forge_pipeline_tests.helpers import SAMPLE_VAULT


def test_nightly_schedule_requests_the_whole_chain_and_starts_off():
    schedule = defs.get_schedule_def("nightly_forge")
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED
    assert schedule.cron_schedule == "0 3 * * *" and schedule.job_name == "forge_full"
    with dg.instance_for_test() as instance:
        context = dg.build_schedule_context(
            instance=instance, scheduled_execution_time=dt.datetime(2026, 11, 24, 3, 0)
        )
        result = schedule.evaluate_tick(context)
    assert len(result.run_requests or []) == 1


def test_schedule_time_and_zone_come_from_settings():
    settings = load_settings(
        overrides={"automation.nightly_cron": "30 2 * * *", "automation.timezone": "Europe/Berlin"}
    )
    schedule = nightly_schedule(settings)
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("30 2 * * *", "Europe/Berlin")


def test_sensor_requests_extraction_only_when_notes_change(tmp_path: Path, monkeypatch):
    vault = tmp_path / "vault"
    shutil.copytree(SAMPLE_VAULT, vault)
    monkeypatch.setenv("FORGE_VAULT", str(vault))
    sensor = defs.get_sensor_def("vault_changes")
    repository = defs.get_repository_def()
    assert sensor.default_status == dg.DefaultSensorStatus.STOPPED
    selected = sensor.asset_selection.resolve(defs.resolve_asset_graph())
    assert {k.to_user_string() for k in selected} == {"vault_notes", "reflection_examples"}
    with dg.instance_for_test() as instance:
        first = sensor.evaluate_tick(
            dg.build_sensor_context(instance=instance, repository_def=repository)
        )
        assert len(first.run_requests) == 1
        cursor = first.cursor
        unchanged = sensor.evaluate_tick(
            dg.build_sensor_context(instance=instance, repository_def=repository, cursor=cursor)
        )
        assert not unchanged.run_requests and "No note" in unchanged.skip_message
        (vault / "Daily" / "2026-06-01.md").write_text("# June\nI realize summer came.\n")
        added = sensor.evaluate_tick(
            dg.build_sensor_context(instance=instance, repository_def=repository, cursor=cursor)
        )
        assert len(added.run_requests) == 1 and added.cursor != cursor
