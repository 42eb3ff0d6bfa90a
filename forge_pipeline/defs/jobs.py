"""Jobs over the asset graph."""

import dagster as dg

forge_full = dg.define_asset_job(
    "forge_full",
    selection=dg.AssetSelection.all(),
    description="The whole chain: vault notes to a deployed model.",
    # One process for every step: the multiprocess default starts a Python (and imports
    # Dagster and Forge again) per step, most of a nightly run that finds nothing new. The
    # heavy work is isolated anyway: training runs as its own process through Pipes.
    executor_def=dg.in_process_executor,
)
