"""Declarative automation: which assets rerun by themselves, and when.

- Per-shard data (``noise_sequences``) and cheap tables (``eval_prompts``, ``scores``,
  ``comparison``) follow their inputs eagerly: they rerun as soon as a dependency's *data
  version* changed (a rerun that reproduced the same data triggers nothing).
- Expensive GPU work (the golden-noise models and ``eval_images``) follows a cron condition,
  ``GN_TRAIN_CRON`` (default nightly at 03:00, in ``GN_CRON_TIMEZONE``, default UTC): at the
  tick it reruns if an input changed since its last run, so one edited prompt does not
  retrain a model every minute. ``scores`` and ``comparison`` follow in the same run.
- ``prompts`` is rematerialized by the prompt sensor (``gn_dagster.defs.prompts.sensor``),
  not here.

The ``golden_noise_automation`` sensor (``gn_dagster.defs.automation``) evaluates these
conditions (every 30 s by default); it starts running with ``dagster dev``.
"""

from dagster import AutomationCondition


def any_deps_changed() -> AutomationCondition:
    """A dependency (any of its partitions) got a new data version since the previous tick,
    outside a run that also targets this asset, or will be requested on this tick."""
    return AutomationCondition.any_deps_match(
        (
            AutomationCondition.data_version_changed()
            & ~AutomationCondition.executed_with_root_target()
        ).with_label("data_version_changed_without_root")
        | AutomationCondition.will_be_requested()
    ).with_label("any_deps_changed")


def _ready() -> AutomationCondition:
    return (
        ~AutomationCondition.any_deps_missing()
        & ~AutomationCondition.any_deps_in_progress()
        & ~AutomationCondition.in_progress()
    )


def on_data_change() -> AutomationCondition:
    """Dagster's ``eager()`` keyed on data versions: run a partition that became missing or
    whose dependency's data changed, once no dependency is missing or in progress."""
    changed = (AutomationCondition.newly_missing() | any_deps_changed()).since_last_handled()
    return (changed & _ready()).with_label("on data change")


def any_dep_failed_a_blocking_check() -> AutomationCondition:
    """Some partition of a dependency failed a blocking check (and is not being rerun).
    (Dagster's ``all_deps_blocking_checks_passed`` holds when *one* partition passed.)"""
    failed = AutomationCondition.check_failed() & ~AutomationCondition.will_be_requested()
    return AutomationCondition.any_deps_match(
        AutomationCondition.any_checks_match(failed, blocking_only=True)
    ).with_label("any_dep_failed_a_blocking_check")


def on_cron_if_changed(cron: str, timezone: str = "UTC", with_requested_deps: bool = False):
    """At each tick of ``cron``, run if a dependency's data or the asset's code version
    changed since the asset last ran (or it is missing); wait for dependencies still in
    progress, and until no partition of a dependency fails a blocking check.

    ``with_requested_deps``: also run, in the same run, whenever a dependency is requested
    (the evaluation follows models that retrain late, once a failed check was fixed).

    Raises:
        dagster.CheckError: ``cron`` is not a valid cron string.
    """
    changed = (
        any_deps_changed()
        | AutomationCondition.code_version_changed()
        | AutomationCondition.newly_missing()
    ).since_last_handled()
    due = (AutomationCondition.cron_tick_passed(cron, timezone) & changed).since_last_handled()
    condition = due & _ready() & ~any_dep_failed_a_blocking_check()
    if with_requested_deps:
        follow = AutomationCondition.any_deps_match(AutomationCondition.will_be_requested())
        condition = condition | (follow.with_label("a dependency is requested") & _ready())
    return condition.with_label(f"on cron '{cron}' ({timezone}) if inputs changed")
