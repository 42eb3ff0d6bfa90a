"""The nightly schedule for the whole chain and a sensor that extracts new or changed notes."""

import dagster as dg

from forge_pipeline.defs.jobs import forge_full
from forge_pipeline.lib.core.config import Settings, load_settings
from forge_pipeline.lib.vault.scan import vault_fingerprint


def nightly_schedule(settings: Settings) -> dg.ScheduleDefinition:
    """forge_full every night at automation.nightly_cron; off until the user turns it on."""
    return dg.ScheduleDefinition(
        name="nightly_forge",
        job=forge_full,
        cron_schedule=settings.automation.nightly_cron,
        execution_timezone=settings.automation.timezone,
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description="Retrain and redeploy when the vault changed; an unchanged vault skips "
        "training, export and deploy.",
    )


def vault_sensor(settings: Settings) -> dg.SensorDefinition:
    """Extraction (not training) whenever a note is added, changed or removed."""

    @dg.sensor(
        name="vault_changes",
        asset_selection=["vault_notes", "reflection_examples"],
        minimum_interval_seconds=settings.automation.sensor_interval_s,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description="Parses and extracts when the vault's files change (sizes and times only).",
    )
    def vault_changes(context: dg.SensorEvaluationContext):
        current = load_settings()
        fingerprint = vault_fingerprint(current.vault, current.parsing)
        if fingerprint == context.cursor:
            return dg.SkipReason("No note was added, changed or removed since the last check.")
        context.update_cursor(fingerprint)
        return dg.RunRequest(run_key=f"vault-{fingerprint}")

    return vault_changes


@dg.definitions
def defs() -> dg.Definitions:
    """Schedule and sensor, timed from forge.yaml."""
    settings = load_settings()
    return dg.Definitions(schedules=[nightly_schedule(settings)], sensors=[vault_sensor(settings)])
