"""Only stale work reruns: a materialized tiny graph, a prompt edit, the prompt sensor and the
automation conditions ticked in process with an explicit clock."""

import datetime

from dagster import AssetKey, RunConfig

from gn_dagster.demo import run_job
from gn_dagster.local_automation import LocalAutomation, clock_between_cron_ticks, next_cron_tick
from gn_dagster.settings import Settings
from gn_models.data.shards import hash_shard_keys, shard_of
from gn_models.golden_noise.registry import MODEL_CLASSES
from helpers.graph import TINY, TINY_BASE_MODEL, TINY_OPS
from helpers.staleness import stale_assets

NUM_SHARDS = Settings().num_shards
MODEL_ASSET_NAMES = list(MODEL_CLASSES)
SHARDS = hash_shard_keys(NUM_SHARDS)
NIGHTLY = [*MODEL_ASSET_NAMES, "eval_images", "scores", "realism", "comparison"]


def edit_prompt(path, old: str, new: str) -> set[str]:
    """Replace prompt ``old`` by ``new`` in the CSV; return the shards that change."""
    text = path.read_text()
    assert f"\n{old}," in text
    path.write_text(text.replace(f"\n{old},", f"\n{new},"))
    return {SHARDS[shard_of(old, NUM_SHARDS)], SHARDS[shard_of(new, NUM_SHARDS)]}


def names(requested) -> set[str]:
    return {key.to_user_string() for key in requested}


def test_a_full_materialization_leaves_nothing_stale(materialized):
    assert stale_assets(materialized.defs, materialized.instance) == {}


def test_one_edited_prompt_reruns_its_shard_now_and_training_at_the_cron_tick(graph_copy):
    g = graph_copy
    auto = LocalAutomation(g.defs, g.instance, TINY)
    now = clock_between_cron_ticks(datetime.datetime.now(datetime.UTC))
    assert auto.sensor_tick() == []  # the cursor starts from the instance: all up to date
    assert auto.automation_tick(now) == {}

    old = "a handwritten digit seven"
    changed = edit_prompt(g.train_prompts, old, "a neatly handwritten digit seven")
    run_job(g.defs, g.instance, "observe_prompt_sources", log=lambda _: None)
    stale = stale_assets(g.defs, g.instance)
    assert set(stale) == {f"prompts[{k}]" for k in changed}
    assert all("new dependency data version" in c for k in changed for c in stale[f"prompts[{k}]"])

    assert sorted(auto.sensor_tick()) == sorted(changed)
    assert auto.sensor_tick() == []  # same content: never requested twice
    collected = [r for r in auto.runs if r.dagster_run.job_name == "collect_noise_sequences"]
    assert sorted(r.dagster_run.tags["dagster/partition"] for r in collected) == sorted(changed)
    assert set(stale_assets(g.defs, g.instance)) == set(MODEL_ASSET_NAMES)

    assert auto.automation_tick(now + datetime.timedelta(minutes=1)) == {}  # before the tick
    tick = next_cron_tick(now)
    requested = auto.automation_tick(tick + datetime.timedelta(minutes=1))
    assert names(requested) == set(NIGHTLY)
    assert stale_assets(g.defs, g.instance) == {}

    # a shard changes between the nightly run and the next tick: the next night retrains
    edit_prompt(g.train_prompts, "a handwritten digit two", "a handwritten digit two again")
    assert len(auto.sensor_tick()) >= 1
    assert auto.automation_tick(tick + datetime.timedelta(minutes=2)) == {}
    requested = auto.automation_tick(next_cron_tick(tick) + datetime.timedelta(minutes=1))
    assert names(requested) == set(NIGHTLY)


def test_a_new_base_model_reruns_every_shard_eagerly(graph_copy):
    g = graph_copy
    auto = LocalAutomation(g.defs, g.instance, TINY)
    now = clock_between_cron_ticks(datetime.datetime.now(datetime.UTC))
    auto.automation_tick(now)
    settings = {**TINY_BASE_MODEL, "seed": 1}
    retrain = RunConfig(
        resources={"diffusion": {"config": {"kind": "digits", "settings": settings}}}
    )
    run_job(g.defs, g.instance, "prepare_models", run_config=retrain, log=lambda _: None)
    requested = auto.automation_tick(now + datetime.timedelta(minutes=1))
    assert requested == {AssetKey("noise_sequences"): set(SHARDS)}


def test_a_failed_blocking_check_holds_back_the_nightly_retraining(graph_copy):
    g = graph_copy
    auto = LocalAutomation(g.defs, g.instance, TINY)
    now = clock_between_cron_ticks(datetime.datetime.now(datetime.UTC))
    auto.automation_tick(now)
    # the paper's chain (no renormalization) at CFG 500: x'_n leaves the Gaussian shell
    broken = {"config": {**TINY_OPS["noise_sequences"], "cfg_denoise": 500.0, "renormalize": False}}
    job = g.defs.resolve_job_def("collect_noise_sequences")
    result = job.execute_in_process(
        run_config=RunConfig(ops={"noise_sequences": broken}),
        instance=g.instance,
        partition_key=SHARDS[0],
        raise_on_error=False,
    )
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks == {
        "shard_matches_data_version": True,
        "x_T_standard_normal": True,
        "golden_noise_on_shell": False,
        "kept_fraction_above_floor": True,
    }
    assert set(stale_assets(g.defs, g.instance)) == set(MODEL_ASSET_NAMES)
    assert auto.automation_tick(next_cron_tick(now) + datetime.timedelta(minutes=1)) == {}
    run_job(g.defs, g.instance, "collect_noise_sequences", SHARDS[0], TINY, log=lambda _: None)
    requested = auto.automation_tick(next_cron_tick(now) + datetime.timedelta(minutes=2))
    assert names(requested) == set(NIGHTLY)  # the shard passes again: the pending retrain runs


def test_the_test_clock_starts_away_from_the_nightly_tick():
    just_before = datetime.datetime(2026, 11, 23, 2, 59, 30, tzinfo=datetime.UTC)
    start = clock_between_cron_ticks(just_before, "0 3 * * *", "UTC")
    assert start == datetime.datetime(2026, 11, 23, 4, 0, tzinfo=datetime.UTC)
    assert next_cron_tick(start, "0 3 * * *", "UTC") - start == datetime.timedelta(hours=23)
