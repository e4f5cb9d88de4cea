"""The whole graph on the sdxl profile: a tiny random StableDiffusionXLPipeline and a tiny
HPSv2 checkpoint, artifacts on an fsspec memory:// filesystem, a real Dagster instance."""

import copy
import json
import uuid

import fsspec
import numpy as np
import pandas as pd
import pytest
import yaml
from dagster import (
    AssetKey,
    AssetRecordsFilter,
    DagsterInstance,
    DagsterInvalidConfigError,
    RunConfig,
    validate_run_config,
)

from gn_dagster import train_cli
from gn_dagster.definitions import build_definitions
from gn_dagster.demo import materialize_all
from gn_dagster.partitions import registered_shards
from gn_dagster.resources.models import DiffusionResource, RewardResource
from gn_dagster.settings import Settings
from gn_models.backends import diffusers_backend
from gn_models.data.noise_sequence_store import open_shard, read_shard
from gn_models.data.training_data import OneStepTargets, load_training_sequences
from gn_models.golden_noise.registry import MODEL_CLASSES, load_golden_model
from gn_models.rewards import hpsv2
from gn_models.utils import fsio, versions
from helpers.graph import TINY, head_of
from helpers.paths import REPO, SHARED_PROMPTS
from helpers.tiny_pipelines import TINY_HPSV2_ARCH

MODEL_ASSET_NAMES = list(MODEL_CLASSES)
REWARD_KEYS = ("filter_reward", "judge_reward")
TINY_SDXL = RunConfig(
    ops={name: TINY.ops[name] for name in MODEL_ASSET_NAMES}
    | {
        "noise_sequences": {
            "config": {
                "seeds_per_prompt": 2,
                "num_redenoise": 2,
                "num_steps": 3,
                "batch_size": 8,
                "chunk_size": 4,
            }
        },
        "eval_images": {
            "config": {
                "seeds_per_prompt": 2,
                "cfg_scales": [5.5, 1.0],
                "step_counts": [3],
                "preview_columns": 3,
            }
        },
    }
)


def sdxl_settings(storage_root: str, train: str = "", evaluation: str = "", **options) -> Settings:
    """Settings of the sdxl profile, as GN_PROFILE=sdxl and its variables would give them."""
    return Settings(
        profile="sdxl",
        device="cpu",
        storage_root=storage_root,
        train_prompts=train,
        eval_prompts=evaluation,
        profile_options=options,
    )


def latest(instance, name):
    records = instance.fetch_materializations(AssetRecordsFilter(AssetKey(name)), limit=1)
    assert records.records, f"{name} was not materialized"
    return records.records[0].asset_materialization.metadata


@pytest.fixture(scope="module")
def sdxl_graph(tmp_path_factory, tiny_sdxl_dir, tiny_hpsv2_checkpoint):
    prompt_dir = SHARED_PROMPTS
    if not prompt_dir.is_dir():
        pytest.skip(f"{prompt_dir} (DrawBench, Pick-a-Pic) is not available")
    root = tmp_path_factory.mktemp("sdxl")
    train = head_of(str(prompt_dir / "drawbench.csv"), 10, root / "drawbench_head.csv")
    evaluation = root / "pickapic_head.csv"  # keeps the BOM and the extra columns
    evaluation.write_bytes(b"".join((prompt_dir / "pickapic_test.csv").open("rb").readlines()[:4]))
    storage_root = f"memory://gn-sdxl-{uuid.uuid4().hex[:8]}/artifacts"
    settings = sdxl_settings(
        storage_root,
        str(train),
        str(evaluation),
        sdxl_model=str(tiny_sdxl_dir),
        hpsv2_checkpoint=str(tiny_hpsv2_checkpoint),
    )
    # the tiny open_clip architecture is no environment setting: the resources get it
    reward = {"checkpoint": str(tiny_hpsv2_checkpoint), "arch": TINY_HPSV2_ARCH, "batch_size": 4}
    rewards = {key: RewardResource(kind="hpsv2", settings=reward) for key in REWARD_KEYS}
    defs = build_definitions(settings, **rewards)
    home = root / "dagster_home"
    home.mkdir()
    with DagsterInstance.local_temp(str(home)) as instance:
        materialize_all(defs, instance, TINY_SDXL, log=lambda _: None)
        yield defs, instance, storage_root
    fsio.remove(storage_root)


def test_base_and_reward_models_are_recorded(sdxl_graph):
    _, instance, _ = sdxl_graph
    base = latest(instance, "base_model")
    assert base["pipeline"].value == "StableDiffusionXLPipeline"
    assert base["latent_shape"].value == "[4, 8, 8]"
    assert base["pooled_dim"].value == 16
    for role in ("filter", "judge"):
        assert latest(instance, f"{role}_reward_model")["reward"].value == "HPSv2 v2.1"


def test_noise_sequences_on_sdxl_latents_in_memory_store(sdxl_graph):
    defs, _, root = sdxl_graph
    store = defs.resources["storage"].noise_sequence_store
    assert store.startswith("memory://")
    counts = []
    for shard in fsspec.filesystem("memory").ls(fsio.url_to_fs(store)[1], detail=False):
        name = shard.rpartition("/")[2]
        if name.startswith("shard-"):
            counts.append(open_shard(store, name).attrs["count"])
            if counts[-1]:
                data = read_shard(store, name, ["noise", "reward"])
                assert data["noise"].shape[1:] == (3, 4, 8, 8)  # x_T, x'_1, x'_2 on SDXL latents
                assert np.isfinite(data["reward"][:, [0, 2]]).all()
    assert sum(counts) == 10 * 2  # DrawBench head: 10 prompts x 2 seeds
    assert not list(fsio.url_to_fs(root)[0].glob(fsio.url_to_fs(root)[1] + "/**/*.partial-*"))


def test_scores_are_hpsv2_cosines_for_every_pair(sdxl_graph):
    defs, instance, _ = sdxl_graph
    storage = defs.resources["storage"]
    frame = pd.read_parquet(storage.scores_path)
    assert set(frame["judge"]) == set(frame["filter"]) == {"HPSv2 v2.1"}
    assert len(frame) == 3 * 2 * 2 * (2 + len(MODEL_ASSET_NAMES))  # prompts x seeds x CFGs
    assert frame[["reward_judge", "reward_filter"]].abs().le(1).all().all()  # cosines
    assert frame["correct"].isna().all()  # HPSv2 is no classifier
    assert pd.read_parquet(storage.realism_path).empty  # HPSv2 has no realism reference
    comparison = pd.read_parquet(storage.comparison_path)
    assert set(comparison["method"]) == {"standard", "re_denoise", *MODEL_ASSET_NAMES}
    assert "data:image/png;base64," in latest(instance, "eval_images")["preview"].value


def test_pipeline_is_loaded_once_per_run(sdxl_graph):
    defs, instance, _ = sdxl_graph
    diffusers_backend._cached_pipeline.cache_clear()
    hpsv2._cached_hpsv2.cache_clear()
    job = defs.resolve_job_def("train_and_evaluate")
    ops = {k: v for k, v in TINY_SDXL.ops.items() if k in job.graph.node_dict}
    result = job.execute_in_process(run_config=RunConfig(ops=ops), instance=instance)
    steps = {e.step_key for e in result.all_events if e.event_type_value == "STEP_SUCCESS"}
    checks = {f"{m}_checkpoint_checks" for m in MODEL_ASSET_NAMES}
    assets = {*MODEL_ASSET_NAMES, "eval_images", "scores", "realism", "comparison"}
    assert steps == assets | checks | {"scores_score_table_complete"}
    assert all(e.passed for e in result.get_asset_check_evaluations())
    assert diffusers_backend._cached_pipeline.cache_info().misses == 1
    assert hpsv2._cached_hpsv2.cache_info().misses == 1  # filter and judge share the model


def test_profile_that_no_longer_matches_the_record_is_refused(sdxl_graph, tiny_sd_dir):
    defs, _, _ = sdxl_graph
    storage = defs.resources["storage"]
    other = DiffusionResource(kind="diffusers", settings={"model": str(tiny_sd_dir)})
    with pytest.raises(ValueError, match="Rematerialize `base_model`"):
        other.load(storage.base_model_dir, "cpu")


@pytest.mark.parametrize("job", ["collect_noise_sequences", "train_and_evaluate"])
def test_sdxl_run_config_files_validate(job):
    defs = build_definitions(sdxl_settings("memory://unused"))
    path = REPO / "configs" / "sdxl" / f"{job}.yaml"
    run_config = yaml.safe_load(path.read_text())
    assert validate_run_config(defs.resolve_job_def(job), run_config)
    broken = copy.deepcopy(run_config)
    next(iter(broken["ops"].values()))["config"]["no_such_setting"] = 1
    with pytest.raises(DagsterInvalidConfigError):
        validate_run_config(defs.resolve_job_def(job), broken)


def test_shards_labelled_by_different_rewards_are_not_mixed(sdxl_graph):
    defs, instance, _ = sdxl_graph
    store = defs.resources["storage"].noise_sequence_store
    keys = registered_shards(instance)
    shards = [k for k in keys if open_shard(store, k).attrs["count"] > 0]
    group = open_shard(store, shards[0], mode="r+")
    group.attrs["reward"] = "HPSv2 v2.0"
    try:
        with pytest.raises(ValueError, match="different rewards"):
            load_training_sequences(store, keys, OneStepTargets())
    finally:
        group.attrs["reward"] = "HPSv2 v2.1"


def test_train_cli_writes_the_checkpoint_and_reports_it(sdxl_graph, capsys):
    defs, instance, _ = sdxl_graph
    before = latest(instance, "film_noise_net")["parameters"].value
    config = json.dumps(
        {"steps": 5, "batch_size": 4, "eval_every": 5, "hidden": 8, "target_state": 1}
    )
    assert train_cli.main(["film_noise_net", "--config", config], defs, instance) == 0
    meta = latest(instance, "film_noise_net")
    assert meta["parameters"].value < before  # hidden 8 instead of the TINY config's 16
    model = load_golden_model(
        versions.localize(defs.resources["storage"].checkpoint_dir("film_noise_net"))
    )
    assert sum(p.numel() for p in model.parameters()) == meta["parameters"].value
    assert "checkpoint at memory://" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        train_cli.main(["film_noise_net", "--config", '{"no_such_field": 1}'], defs, instance)
