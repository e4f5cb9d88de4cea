"""The prompt sensor and the automation conditions, ticked in this process (no daemon).

``dagster dev`` runs the same sensor and conditions in its daemon. This module evaluates
them on demand and executes the runs they request in process, with an explicit clock, so a
script, a benchmark or a test can say "the prompt file changed; what reruns now, and what at
the nightly tick?" and get a deterministic answer.
"""

from __future__ import annotations

import datetime
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass, field

from croniter import croniter
from dagster import (
    AssetKey,
    DagsterInstance,
    Definitions,
    ExecuteInProcessResult,
    RunConfig,
    SensorResult,
    build_sensor_context,
    evaluate_automation_conditions,
)

from gn_dagster.defs.prompts.sensor import evaluate_prompt_sensor
from gn_dagster.demo import run_job
from gn_dagster.settings import Settings

TRAIN_CRON, CRON_TIMEZONE = Settings.train_cron, Settings.cron_timezone  # the defaults


def next_cron_tick(
    now: datetime.datetime, cron: str = TRAIN_CRON, timezone: str = CRON_TIMEZONE
) -> datetime.datetime:
    """The first tick of ``cron`` (default: the default training cron) in ``timezone`` after
    ``now`` (a timezone-aware datetime)."""
    local = now.astimezone(zoneinfo.ZoneInfo(timezone))
    return croniter(cron, local).get_next(datetime.datetime).astimezone(now.tzinfo)


def clock_between_cron_ticks(
    now: datetime.datetime, cron: str = TRAIN_CRON, timezone: str = CRON_TIMEZONE
) -> datetime.datetime:
    """A start for an explicit clock: one hour after the first tick of ``cron`` after ``now``.

    A clock that starts at the wall-clock time can cross a cron tick within the next minute
    (a test run at 02:59 UTC would see the nightly retraining fire "early"); one that starts
    an hour after a tick has the whole interval (a day for the default cron) before the next.
    """
    return next_cron_tick(now, cron, timezone) + datetime.timedelta(hours=1)


@dataclass
class LocalAutomation:
    """Ticks of the prompt sensor and of the automation for one instance.

    Attributes:
        defs: the Definitions (their ``prompt_source`` resource is the watched source).
        instance: the Dagster instance that holds the materializations.
        run_config: op config for the runs (e.g. small test settings); ops a run does not
            execute are left out.
        runs: every run executed so far, in order.
    """

    defs: Definitions
    instance: DagsterInstance
    run_config: RunConfig | None = None
    runs: list[ExecuteInProcessResult] = field(default_factory=list)
    _sensor_cursor: str | None = None
    _automation_cursor: object = None

    def sensor_tick(self) -> list[str]:
        """Evaluate the prompt sensor once, record its observations and execute the
        ``collect_noise_sequences`` run of each requested shard (registering the shards it
        requests first, as the daemon does). Returns those shards."""
        context = build_sensor_context(
            instance=self.instance,
            cursor=self._sensor_cursor,
            resources={"prompt_source": self.defs.resources["prompt_source"]},
        )
        result = evaluate_prompt_sensor(context, self.defs.resources["prompt_source"])
        if not isinstance(result, SensorResult):  # SkipReason: the source is unchanged
            return []
        self._sensor_cursor = result.cursor
        for request in result.dynamic_partitions_requests:
            self.instance.add_dynamic_partitions(
                request.partitions_def_name, list(request.partition_keys)
            )
        for event in result.asset_events:
            self.instance.report_runless_asset_event(event)
        for request in result.run_requests:
            self.runs.append(
                run_job(
                    self.defs,
                    self.instance,
                    "collect_noise_sequences",
                    request.partition_key,
                    self.run_config,
                    log=lambda _: None,
                    asset_selection=list(request.asset_selection),
                )
            )
        return [request.partition_key for request in result.run_requests]

    def automation_tick(self, now: datetime.datetime) -> dict[AssetKey, set[str | None]]:
        """Evaluate every automation condition at time ``now`` and execute what it requests:
        one run per partition key (unpartitioned assets together). Then evaluate again, a
        second later each time, until nothing more is requested, as the daemon's next ticks
        would while those runs finish. Returns everything requested."""
        requested: dict[AssetKey, set[str | None]] = defaultdict(set)
        while True:
            by_partition = self._evaluate(now)
            if not by_partition:
                return dict(requested)
            for partition, keys in by_partition.items():
                self.runs.append(self._run_assets(keys, partition))
                for key in keys:
                    requested[key].add(partition)
            now += datetime.timedelta(seconds=1)

    def _evaluate(self, now: datetime.datetime) -> dict[str | None, list[AssetKey]]:
        """One evaluation: the requested asset keys by partition key."""
        result = evaluate_automation_conditions(
            self.defs, self.instance, evaluation_time=now, cursor=self._automation_cursor
        )
        self._automation_cursor = result.cursor
        by_partition: dict[str | None, list[AssetKey]] = defaultdict(list)
        for key in self.defs.resolve_asset_graph().get_all_asset_keys():
            for partition in result.get_requested_partitions(key):
                by_partition[partition].append(key)
        return by_partition

    def _run_assets(self, keys: list[AssetKey], partition: str | None) -> ExecuteInProcessResult:
        selected = {key.to_user_string() for key in keys}
        ops = self.run_config.ops if self.run_config else {}
        return self.defs.resolve_implicit_global_asset_job_def().execute_in_process(
            run_config=RunConfig(ops={k: v for k, v in ops.items() if k in selected}),
            instance=self.instance,
            partition_key=partition,
            asset_selection=keys,
            raise_on_error=True,
        )
