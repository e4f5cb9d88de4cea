import numpy as np
import pandas as pd
import torch
from dagster import AssetKey, AssetRecordsFilter, Definitions

from gn_dagster.definitions import ASSETS, defs
from gn_dagster.partitions import NUM_SHARDS, SHARD_KEYS
from gn_models.ddim import re_denoise
from gn_models.digits.backend import DigitsBackend
from gn_models.noise_net import FiLMNoiseNet
from gn_models.npd_store import open_shard, read_shard
from gn_models.prompts import read_prompt_file, shard_of
from pipeline.conftest import NUM_EVAL_PROMPTS, NUM_TRAIN_PROMPTS

ASSET_NAMES = ["prompts", "eval_prompts", "base_model", "reward_model", "noise_pairs", "npnet",
               "eval_images", "scores"]


def latest(m, name, partition=None):
    """Metadata of the newest materialization of an asset (partition) in the instance."""
    records = m.instance.fetch_materializations(
        AssetRecordsFilter(AssetKey(name), asset_partitions=[partition] if partition else None),
        limit=1,
    ).records
    assert records, f"{name}[{partition}] was not materialized"
    return records[0].asset_materialization.metadata


def test_definitions_load_and_validate():
    Definitions.validate_loadable(defs)
    specs = [spec for a in ASSETS for spec in a.specs]
    assert sorted(s.key.path[-1] for s in specs) == sorted(ASSET_NAMES)
    for spec in specs:
        assert spec.code_version and spec.description, spec.key


def test_every_asset_and_shard_materialized(materialized):
    for name in ASSET_NAMES:
        if name in ("prompts", "noise_pairs"):
            for shard in SHARD_KEYS:
                latest(materialized, name, shard)
        else:
            latest(materialized, name)


def test_prompt_shards_partition_the_file(materialized):
    expected = read_prompt_file(materialized.train_prompts)
    seen = []
    for i, shard in enumerate(SHARD_KEYS):
        frame = pd.read_parquet(materialized.storage.prompts_dir / f"{shard}.parquet")
        assert all(shard_of(t, NUM_SHARDS) == i for t in frame["prompt"])
        assert latest(materialized, "prompts", shard)["num_prompts"].value == len(frame)
        seen += list(frame["prompt"])
    assert sorted(seen) == sorted(p.text for p in expected) and len(seen) == NUM_TRAIN_PROMPTS


def test_noise_pairs_zarr_shapes_dtypes_and_statistics(materialized):
    store = materialized.storage.npd_store
    shards = [read_shard(store, k) for k in SHARD_KEYS if open_shard(store, k).attrs["count"]]
    data = {k: np.concatenate([s[k] for s in shards]) for k in shards[0]}
    n = NUM_TRAIN_PROMPTS * 3
    assert data["x_T"].shape == data["x_golden"].shape == (n, 1, 8, 8)
    assert data["x_T"].dtype == np.float32 and data["image_golden"].dtype == np.uint8
    assert data["kept"].dtype == bool and data["seed"].dtype == np.int64
    assert len(set(data["seed"].tolist())) == n  # every (prompt, k) has its own seed
    assert abs(data["x_T"].mean()) < 0.1 and abs(data["x_T"].std() - 1) < 0.1
    assert np.isfinite(data["x_golden"]).all()
    assert not np.allclose(data["x_golden"], data["x_T"])
    np.testing.assert_array_equal(data["kept"], data["reward_golden"] > data["reward_standard"])
    assert ((0 <= data["reward_standard"]) & (data["reward_standard"] <= 1)).all()
    group = open_shard(store, SHARD_KEYS[0])
    assert group["x_T"].chunks[0] == 8  # chunked along the sample axis
    meta = latest(materialized, "noise_pairs", SHARD_KEYS[0])
    assert {"path", "count", "kept_fraction", "mean_reward_gain"} <= set(meta)


def test_re_denoise_round_trip_with_trained_base_model(materialized):
    backend = DigitsBackend.load(materialized.storage.base_model_dir)
    cond = backend.encode_prompts(["a handwritten digit seven"] * 64)
    x_T = backend.initial_noise(list(range(64)))
    back = re_denoise(backend, x_T, cond, cfg_denoise=1.0, cfg_inversion=1.0)
    golden = re_denoise(backend, x_T, cond, cfg_denoise=5.5, cfg_inversion=1.0)
    round_trip_error = ((back - x_T).norm() / x_T.norm()).item()
    perturbation = ((golden - x_T).norm() / x_T.norm()).item()
    assert round_trip_error < 0.15
    assert perturbation > 1.5 * round_trip_error  # strong CFG leaves a real perturbation


def test_checkpoint_reloads_and_changes_noise(materialized):
    model = FiLMNoiseNet.load(materialized.storage.npnet_dir)
    meta = latest(materialized, "npnet")
    assert np.isfinite(meta["val_loss"].value) and meta["parameters"].value > 0
    x = torch.randn(4, 1, 8, 8)
    pooled = torch.randn(4, 384)
    from gn_models.text_encoder import PromptEmbeds

    out = model(x, PromptEmbeds(pooled[:, None], torch.ones(4, 1, dtype=torch.long), pooled))
    assert out.shape == x.shape and torch.isfinite(out).all() and not torch.equal(out, x)


def test_eval_images_and_preview(materialized):
    directory = materialized.storage.eval_images_dir
    index = pd.read_parquet(directory / "index.parquet")
    assert len(index) == NUM_EVAL_PROMPTS * 3
    assert all((directory / p).is_file() for p in list(index["standard"]) + list(index["golden"]))
    assert "data:image/png;base64," in latest(materialized, "eval_images")["preview"].value


def test_score_table_and_summary(materialized):
    frame = pd.read_parquet(materialized.storage.scores_path)
    assert list(frame.columns) == ["prompt", "label", "seed", "reward_standard", "reward_golden",
                                   "win", "reward"]
    assert len(frame) == NUM_EVAL_PROMPTS * 3 and not frame.duplicated(["prompt", "seed"]).any()
    for column in ("reward_standard", "reward_golden"):
        assert frame[column].between(0, 1).all()
    assert (frame["win"] == (frame["reward_golden"] > frame["reward_standard"])).all()
    meta = latest(materialized, "scores")
    assert meta["win_rate_ci_low"].value <= meta["win_rate"].value <= meta["win_rate_ci_high"].value
    assert "win rate" in meta["summary"].value
