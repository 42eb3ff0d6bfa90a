"""The training pool gets its limit before the run queue's first look, and keeps one set by hand."""

import dagster as dg
from typer.testing import CliRunner

from forge_pipeline.cli import app
from forge_pipeline.defs.training.pools import TRAINING_POOL, ensure_pool_limits


def test_the_training_pool_gets_the_default_limit_once():
    with dg.DagsterInstance.get() as instance:  # the project's dagster.yaml: default_limit 1
        assert TRAINING_POOL not in instance.event_log_storage.get_concurrency_keys()
        assert ensure_pool_limits(instance)
        info = instance.event_log_storage.get_concurrency_info(TRAINING_POOL)
        assert info.slot_count == 1
        assert not ensure_pool_limits(instance)


def test_a_limit_set_by_hand_is_left_as_it_is():
    with dg.DagsterInstance.get() as instance:
        instance.event_log_storage.set_concurrency_slots(TRAINING_POOL, 2)
        assert not ensure_pool_limits(instance)
        assert instance.event_log_storage.get_concurrency_info(TRAINING_POOL).slot_count == 2


def test_forge_pools_says_what_it_did():
    runner = CliRunner()
    first, second = runner.invoke(app, ["pools"]), runner.invoke(app, ["pools"])
    assert first.exit_code == 0 and "limit set from the default" in first.output
    assert second.exit_code == 0 and "has a limit" in second.output
