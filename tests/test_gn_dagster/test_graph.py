import os
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import torch
from dagster import AssetKey, AssetRecordsFilter, Definitions

from gn_dagster.definitions import defs
from gn_dagster.partitions import registered_shards
from gn_dagster.settings import Settings
from gn_models.backends.digits_backend import DigitsBackend
from gn_models.data.noise_sequence_store import open_shard, read_shard, shard_url
from gn_models.data.prompt_files import read_prompt_file
from gn_models.data.shards import hash_shard_keys, shard_of
from gn_models.golden_noise.registry import MODEL_CLASSES, load_golden_model
from gn_models.sampling.re_denoise import re_denoise
from gn_models.utils import versions
from gn_models.utils.versions import localize
from helpers.graph import NUM_EVAL_PROMPTS, NUM_TRAIN_PROMPTS
from helpers.paths import REPO

NUM_SHARDS = Settings().num_shards
MODEL_ASSET_NAMES = list(MODEL_CLASSES)

SOURCE_NAMES = ["prompt_source", "eval_prompt_source"]
ASSET_NAMES = [
    "prompts", "eval_prompts", "base_model", "filter_reward_model", "judge_reward_model",
    "noise_sequences", *MODEL_ASSET_NAMES,
    "eval_images", "scores", "realism", "comparison",
]  # fmt: skip
CHAIN_ROWS = ["re_denoise_x1_renorm", "re_denoise_x2", "re_denoise_x2_renorm"]  # TINY: k 1, 2
METHODS = ["re_denoise", *CHAIN_ROWS, *MODEL_ASSET_NAMES]
SETTINGS = [(5.5, 4), (1.0, 4)]  # the TINY eval settings
EVAL_PAIRS = NUM_EVAL_PROMPTS * 2  # prompts x seeds


def latest(m, name, partition=None):
    """Metadata of the newest materialization of an asset (partition) in the instance."""
    records = m.instance.fetch_materializations(
        AssetRecordsFilter(AssetKey(name), asset_partitions=[partition] if partition else None),
        limit=1,
    ).records
    assert records, f"{name}[{partition}] was not materialized"
    return records[0].asset_materialization.metadata


def test_definitions_load_and_validate():
    built = defs()  # the lazily built Definitions that `dagster dev` loads
    Definitions.validate_loadable(built)
    specs = list(built.resolve_all_asset_specs())
    assert sorted(s.key.path[-1] for s in specs) == sorted(ASSET_NAMES + SOURCE_NAMES)
    for spec in specs:
        assert spec.description, spec.key
        assert spec.code_version or spec.key.path[-1] in SOURCE_NAMES, spec.key


def test_every_asset_and_shard_materialized(materialized):
    shards = registered_shards(materialized.instance)
    assert shards == hash_shard_keys(NUM_SHARDS)
    for name in ASSET_NAMES:
        for shard in shards if name in ("prompts", "noise_sequences") else [None]:
            latest(materialized, name, shard)


def test_prompt_shards_partition_the_file(materialized):
    expected = read_prompt_file(materialized.train_prompts)
    seen = []
    for i, shard in enumerate(hash_shard_keys(NUM_SHARDS)):
        frame = pd.read_parquet(materialized.storage.prompts_path(shard))
        assert all(shard_of(t, NUM_SHARDS) == i for t in frame["prompt"])
        assert latest(materialized, "prompts", shard)["num_prompts"].value == len(frame)
        seen += list(frame["prompt"])
    assert sorted(seen) == sorted(p.text for p in expected) and len(seen) == NUM_TRAIN_PROMPTS


def test_noise_sequences_zarr_shapes_dtypes_and_statistics(materialized):
    store = materialized.storage.noise_sequence_store
    keys = hash_shard_keys(NUM_SHARDS)
    shards = [read_shard(store, k) for k in keys if open_shard(store, k).attrs["count"]]
    data = {k: np.concatenate([s[k] for s in shards]) for k in shards[0]}
    n = NUM_TRAIN_PROMPTS * 3
    assert data["noise"].shape == (n, 4, 1, 8, 8) and data["noise"].dtype == np.float32
    assert data["reward"].shape == (n, 4) and data["image_golden"].dtype == np.uint8
    assert data["kept"].dtype == bool and data["seed"].dtype == np.int64
    assert len(set(data["seed"].tolist())) == n  # every (prompt, k) has its own seed
    x_T = data["noise"][:, 0]
    assert abs(x_T.mean()) < 0.1 and abs(x_T.std() - 1) < 0.1
    assert np.isfinite(data["noise"]).all()
    assert not np.allclose(data["noise"][:, 1], x_T)
    rewarded = data["reward"][:, [0, 1, 3]]
    assert np.isnan(data["reward"][:, 2]).all() and ((rewarded >= 0) & (rewarded <= 1)).all()
    np.testing.assert_array_equal(data["kept"], data["reward"][:, 3] > data["reward"][:, 0])
    assert open_shard(store, keys[0])["noise"].chunks[0] == 8  # chunked along samples
    meta = latest(materialized, "noise_sequences", keys[0])
    assert {"path", "count", "kept_fraction", "mean_reward_gain"} <= set(meta)
    assert meta["truncated_prompts"].value == 0  # digits prompts fit MiniLM's 16 tokens
    stored = meta["storage_version"].value  # the version folder of this materialization
    assert versions.resolve(shard_url(store, keys[0]), stored) is not None


def test_re_denoise_round_trip_with_trained_base_model(materialized):
    backend = DigitsBackend.from_directory(localize(materialized.storage.base_model_dir))
    cond = backend.encode_prompts(["a handwritten digit seven"] * 64)
    x_T = backend.initial_noise(list(range(64)))
    back = re_denoise(backend, x_T, cond, cfg_denoise=1.0, cfg_inversion=1.0)
    golden = re_denoise(backend, x_T, cond, cfg_denoise=5.5, cfg_inversion=1.0)
    round_trip_error = ((back - x_T).norm() / x_T.norm()).item()
    perturbation = ((golden - x_T).norm() / x_T.norm()).item()
    assert round_trip_error < 0.15
    assert perturbation > 1.5 * round_trip_error  # strong CFG leaves a real perturbation


def test_checkpoints_reload_and_change_noise(materialized):
    backend = DigitsBackend.from_directory(localize(materialized.storage.base_model_dir))
    cond = backend.encode_prompts(["the number 3", "handwritten eight"])
    x = backend.initial_noise([1, 2])
    for name in MODEL_ASSET_NAMES:
        model = load_golden_model(localize(materialized.storage.checkpoint_dir(name)))
        meta = latest(materialized, name)
        assert np.isfinite(meta["best_val_loss"].value) and meta["parameters"].value > 0
        assert "data:image/png;base64," in meta["loss_curve"].value
        out = model(x, cond)
        assert out.shape == x.shape and torch.isfinite(out).all(), name
        assert not torch.equal(out, x), name
    assert latest(materialized, "npnet")["sequence_length"].value == 2  # (x_T, x'_1)
    assert latest(materialized, "noise_gru")["sequence_length"].value == 4  # n = 3


def test_rollout_lengths_are_chosen_by_the_filter_and_saved_with_the_checkpoint(materialized):
    npnet = load_golden_model(localize(materialized.storage.checkpoint_dir("npnet")))
    assert npnet.rollout_lengths == {}
    for name in ("film_noise_net", "noise_transformer", "noise_gru"):  # TINY_ROLLOUT
        model = load_golden_model(localize(materialized.storage.checkpoint_dir(name)))
        assert set(model.rollout_lengths) == {"5.5", "1"}, name
        assert set(model.rollout_lengths.values()) <= {1, 2}, name
        meta = latest(materialized, name)
        assert meta["rollout_lengths"].value == model.rollout_lengths
        assert "validation_filter_reward_by_rollout" in meta
        assert meta["chosen_step"].value in (10, 20, 30)


def test_noise_statistics_of_every_method(materialized):
    directory = localize(materialized.storage.eval_images_dir)
    stats = pd.read_parquet(directory / "noise_stats.parquet").set_index("method")
    assert set(stats.index) == {"standard", *METHODS}
    x_T_norms = stats.loc["standard", "norm_mean"]
    for name in ["re_denoise_x1_renorm", "re_denoise_x2_renorm", "film_noise_net"]:
        assert np.allclose(stats.loc[name, "norm_mean"], x_T_norms, rtol=1e-4), name
    assert (stats["norm_ratio"].loc["standard"] == 1.0).all()


def test_eval_images_and_preview(materialized):
    directory = localize(materialized.storage.eval_images_dir)
    index = pd.read_parquet(directory / "index.parquet")
    assert len(index) == EVAL_PAIRS * len(SETTINGS) * (len(METHODS) + 1)
    assert all((directory / p).is_file() for p in index["path"])
    per_key = index.groupby(["cfg_scale", "num_steps", "method"]).size()
    assert (per_key == EVAL_PAIRS).all() and len(per_key) == len(SETTINGS) * (len(METHODS) + 1)
    assert "data:image/png;base64," in latest(materialized, "eval_images")["preview"].value


def test_score_table(materialized):
    frame = pd.read_parquet(materialized.storage.scores_path)
    assert list(frame.columns) == [
        "cfg_scale", "num_steps", "method", "prompt", "label", "seed", "noise_seed", "path",
        "reward_judge", "correct", "reward_filter", "judge", "filter",
    ]  # fmt: skip
    assert len(frame) == EVAL_PAIRS * len(SETTINGS) * (len(METHODS) + 1)  # + standard noise
    assert not frame.duplicated(["cfg_scale", "num_steps", "method", "prompt", "seed"]).any()
    for column in ("reward_judge", "reward_filter", "correct"):
        assert frame[column].between(0, 1).all()
    assert set(frame["judge"]) == {"digit-cnn cnn-v1"}  # another model class than the filter
    assert set(frame["filter"]) == {"digit-classifier logreg-v1"}


def test_realism_table(materialized):
    frame = pd.read_parquet(materialized.storage.realism_path)
    assert len(frame) == len(SETTINGS) * (len(METHODS) + 1)
    assert (frame["images"] == EVAL_PAIRS).all() and (frame["fd"] > 0).all()


def test_comparison_table(materialized):
    frame = pd.read_parquet(materialized.storage.comparison_path)
    assert len(frame) == len(SETTINGS) * (len(METHODS) + 1)
    assert set(frame["method"]) == {"standard", *METHODS}
    paired = frame[frame["method"] != "standard"]
    for name in ("judge_win", "judge_gain", "filter_win", "hacking_gap"):
        assert (paired[f"{name}_low"] <= paired[name]).all()
        assert (paired[name] <= paired[f"{name}_high"]).all()
    counts = paired[["judge_wins", "judge_ties", "judge_losses"]].sum(axis=1)
    assert (counts == paired["pairs"]).all() and (paired["pairs"] == EVAL_PAIRS).all()
    gap = paired["filter_win"] - paired["judge_win"]
    assert np.allclose(paired["hacking_gap"], gap)
    assert frame.loc[frame["method"] == "standard", "judge_win"].isna().all()
    models = frame[~frame["method"].isin(["standard", "re_denoise"])]
    assert models["oracle_judge_win"].between(0, 1).all()  # every model against the oracle
    assert (frame.loc[frame["method"] == "re_denoise", "parameters"] == 0).all()
    assert (frame.loc[frame["method"] == "npnet", "parameters"] > 0).all()
    metadata = latest(materialized, "comparison")
    assert "judge win vs standard" in metadata["summary"].value
    for column in ("extra time", "judge gain vs oracle", "norm z"):
        assert column in metadata["summary"].value
    renorm = frame[frame["method"].str.endswith("_renorm")]
    assert (
        renorm["norm_z"] - frame.loc[frame["method"] == "standard", "norm_z"].iloc[0]
    ).abs().max() < 1e-3
    for plot in ("filter_vs_judge", "chain_oracles", "judge_gain_distribution"):
        assert "data:image/png;base64," in metadata[plot].value


def test_the_graph_loads_from_an_installed_package(tmp_path):
    """As in a `pip install .` image: the packages without the repository around them (the
    dg project config ships inside gn_dagster, as package data)."""
    site = tmp_path / "site-packages"
    for package in ("gn_models", "gn_dagster"):
        shutil.copytree(REPO / package, site / package, ignore=shutil.ignore_patterns("*.pyc"))
    code = (
        "import gn_dagster.definitions as d; defs = d.build_definitions(); "
        "print(d.__file__); print(len(list(defs.resolve_asset_graph().get_all_asset_keys())))"
    )
    env = os.environ | {"PYTHONPATH": str(site), "PYTHONWARNINGS": "ignore"}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr[-2000:]
    path, count = out.stdout.split()[-2:]
    assert path.startswith(str(site)) and int(count) == len(ASSET_NAMES + SOURCE_NAMES)
