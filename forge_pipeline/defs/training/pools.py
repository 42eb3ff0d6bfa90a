"""The run queue's pools: one training at a time, from the very first runs of an instance."""

import dagster as dg

TRAINING_POOL = "forge_training"


def ensure_pool_limits(instance: dg.DagsterInstance) -> bool:
    """Give the training pool the instance's default limit now, if it has none; True if written.

    Dagster's run queue writes a pool's default limit on its first look at a queued run that
    uses it, but after reading which pools have limits: on a new instance, runs queued together
    in that first pass all start, as if the pool had no limit (seen with two forge_full runs).
    """
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return False
    if TRAINING_POOL in storage.get_concurrency_keys():
        return False  # set already, by an earlier run or by hand in the UI: left as it is
    return storage.initialize_concurrency_limit_to_default(TRAINING_POOL)
