"""The schedule that re-observes the prompt sources (``GN_OBSERVE_CRON``, default hourly).

Observing records each training shard's and the evaluation file's current data version, so
the UI marks exactly the changed ``prompts`` shards and ``eval_prompts`` as stale even while
the prompt sensor is off, and the automation reruns ``eval_prompts`` when its file changed.
"""

import os

from dagster import DefaultScheduleStatus, ScheduleDefinition

from gn_dagster.automation import CRON_TIMEZONE
from gn_dagster.jobs import observe_prompt_sources_job

OBSERVE_CRON = os.environ.get("GN_OBSERVE_CRON", "0 * * * *")

observe_prompt_sources_schedule = ScheduleDefinition(
    name="observe_prompt_sources_schedule",
    job=observe_prompt_sources_job,
    cron_schedule=OBSERVE_CRON,
    execution_timezone=CRON_TIMEZONE,
    default_status=DefaultScheduleStatus.RUNNING,
    description="Re-observe the training and evaluation prompt sources (data versions).",
)
