"""Jobs over the asset graph."""

import dagster as dg

forge_full = dg.define_asset_job(
    "forge_full",
    selection=dg.AssetSelection.all(),
    description="The whole chain: vault notes to a deployed model.",
)
