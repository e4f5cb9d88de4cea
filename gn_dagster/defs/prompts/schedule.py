"""The schedule that re-observes the prompt sources (``GN_OBSERVE_CRON``, default hourly).

Observing records each registered training shard's and the evaluation file's current data
version, so the UI marks exactly the changed ``prompts`` shards and ``eval_prompts`` as stale
even while the prompt sensor is off, and the automation reruns ``eval_prompts`` when its file
changed.
"""

from dagster import DefaultScheduleStatus, Definitions, ScheduleDefinition, definitions

from gn_dagster.settings import current_settings


@definitions
def defs() -> Definitions:
    settings = current_settings()
    schedule = ScheduleDefinition(
        name="observe_prompt_sources_schedule",
        job_name="observe_prompt_sources",
        cron_schedule=settings.observe_cron,
        execution_timezone=settings.cron_timezone,
        default_status=DefaultScheduleStatus.RUNNING,
        description="Re-observe the training and evaluation prompt sources (data versions).",
    )
    return Definitions(schedules=[schedule])
