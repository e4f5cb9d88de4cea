"""Evaluation assets: images from standard noise, re-denoise and every golden-noise model at
each sampling setting; paired reward scores; the comparison table."""

import itertools

import numpy as np
import pandas as pd
import torch
from dagster import (
    AssetDep,
    AssetExecutionContext,
    Config,
    DataVersion,
    MaterializeResult,
    MetadataValue,
    asset,
)

from gn_dagster.assets.golden_models import MODEL_ASSET_NAMES
from gn_dagster.assets.prompts import read_prompts_frame
from gn_dagster.atomic import write_parquet
from gn_dagster.automation import on_cron_if_changed, on_data_change
from gn_dagster.metadata import histogram_plot, table
from gn_dagster.profiles import ProfileResource
from gn_dagster.storage import StorageResource
from gn_models.ddim import re_denoise
from gn_models.utils.digest import digest_tree
from gn_models.evaluation import (
    EvalSetting,
    comparison_table,
    paired_scores,
    sample_with_noise,
)
from gn_models.utils.fsio import join, localize, staged_write
from gn_models.utils.images import image_grid, load_png, markdown_image, save_png
from gn_models.golden_noise.registry import load_golden_model

GROUP = "evaluation"
BASELINES = ["standard", "redenoise"]


class EvalImagesConfig(Config):
    seeds_per_prompt: int = 4  # E seeds per evaluation prompt
    first_seed: int = 1_000_000  # seeds first_seed .. first_seed + E - 1, apart from training
    cfg_scales: list[float] = [5.5, 2.0, 1.0]
    step_counts: list[int] = [10, 4]  # 4: golden noise learned at 10 steps, used at 4
    methods: list[str] = BASELINES + MODEL_ASSET_NAMES
    redenoise_cfg: float = 5.5  # w_l of the re-denoise oracle (w_w = 1.0)
    batch_size: int = 256
    preview_columns: int = 16
    png_scale: int = 0  # PNG upscaling (nearest); 0: images under 32 px to >= 32 px


def load_models(config: EvalImagesConfig, storage, device) -> dict:
    """method name -> (golden-noise model, parameter count) for the configured model methods."""
    models = {}
    for name in config.methods:
        if name not in BASELINES:
            model = load_golden_model(localize(storage.checkpoint_dir(name)), device)
            models[name] = (model.golden_noise, sum(p.numel() for p in model.parameters()))
    return models


def noise_functions(config: EvalImagesConfig, backend, models: dict, setting: EvalSetting):
    """method name -> (noise_fn(x_T, cond), parameters), standard noise first."""

    def redenoise(x, c):
        return re_denoise(backend, x, c, config.redenoise_cfg, 1.0, setting.num_steps)

    fns = {"standard": (lambda x, c: x, 0), "redenoise": (redenoise, 0), **models}
    return {"standard": fns["standard"]} | {m: fns[m] for m in config.methods if m != "standard"}


@asset(
    group_name=GROUP,
    deps=[AssetDep("eval_prompts"), AssetDep("base_model")]
    + [AssetDep(m) for m in MODEL_ASSET_NAMES],
    code_version="2",
    pool="gpu",
    automation_condition=on_cron_if_changed(with_requested_deps=True),
    description=(
        "Evaluation images: every evaluation prompt x E seeds sampled from standard noise x_T, "
        "from re-denoise applied at inference (the oracle: two extra UNet calls) and from each "
        "golden-noise model's output for the same x_T, at every CFG scale x DDIM step count. "
        "PNG files plus index.parquet (with noise and sampling times); preview grid in metadata. "
        "Reruns at the GN_TRAIN_CRON tick when its inputs changed."
    ),
)
def eval_images(
    context: AssetExecutionContext,
    config: EvalImagesConfig,
    storage: StorageResource,
    profile: ProfileResource,
) -> MaterializeResult:
    prompts = read_prompts_frame(storage.prompts_path("eval"))
    backend = profile.load_backend(storage.base_model_dir)
    seeds = list(range(config.first_seed, config.first_seed + config.seeds_per_prompt))
    settings = [
        EvalSetting(c, s) for s, c in itertools.product(config.step_counts, config.cfg_scales)
    ]
    models = load_models(config, storage, backend.device)
    rows, preview = [], {}
    calls, unet_rows = backend.unet_calls, backend.unet_rows  # the backend may be cached

    with staged_write(storage.eval_images_dir) as tmp, torch.no_grad():
        for setting in settings:
            for method, (fn, params) in noise_functions(config, backend, models, setting).items():
                out = sample_with_noise(backend, fn, prompts, seeds, setting, config.batch_size)
                context.log.info(f"{setting.name} {method}: {len(out.images)} images")
                rows += _write_pngs(
                    tmp, out, setting, method, params, prompts, seeds, config.png_scale
                )
                if setting == settings[0]:
                    preview[method] = out.images[:: len(seeds)][: config.preview_columns]
        pd.DataFrame(rows).to_parquet(tmp / "index.parquet", index=False)
        grid = image_grid(list(preview.values()))
        grid.save(tmp / "preview.png")
        version = DataVersion(digest_tree(tmp))
    return MaterializeResult(
        data_version=version,
        metadata={
            "path": MetadataValue.path(storage.eval_images_dir),
            "num_images": len(rows),
            "unet_calls": backend.unet_calls - calls,
            "unet_rows": backend.unet_rows - unet_rows,
            "num_prompts": len(prompts),
            "seeds": f"{seeds[0]}..{seeds[-1]}",
            "settings": ", ".join(s.name for s in settings),
            "methods": ", ".join(preview),
            "preview": MetadataValue.md(
                f"{settings[0].name}. Rows, top to bottom: {', '.join(preview)}. Columns: one "
                "evaluation prompt each (first seed); every row starts from the same x_T.\n\n"
                + markdown_image(grid, "standard vs golden noise")
            ),
        },
    )


def _write_pngs(directory, out, setting, method, params, prompts, seeds, scale) -> list[dict]:
    rows = []
    scale = scale or max(1, 32 // max(out.images.shape[-2:]))
    jobs = [(p, s) for p in prompts for s in seeds]
    for i, ((prompt, seed), image) in enumerate(zip(jobs, out.images, strict=False)):
        path = f"{setting.name}/{method}/{i:05d}_seed{seed}.png"
        save_png(image, directory / path, scale)
        rows.append(
            {
                "cfg_scale": setting.cfg_scale,
                "num_steps": setting.num_steps,
                "method": method,
                "prompt": prompt.text,
                "label": -1 if prompt.label is None else prompt.label,
                "seed": seed,
                "path": path,
                "parameters": params,
                "noise_seconds_per_image": out.noise_seconds / len(out.images),
                "sampling_seconds_per_image": out.sampling_seconds / len(out.images),
            }
        )
    return rows


@asset(
    group_name=GROUP,
    deps=[AssetDep("eval_images"), AssetDep("reward_model")],
    code_version="2",
    automation_condition=on_data_change(),
    description=(
        "Reward of every evaluation image, paired with standard noise: one row per (setting, "
        "method, prompt, seed) with reward_standard, reward_golden and win (golden > "
        "standard). Parquet on disk; summary of the first setting in metadata."
    ),
)
def scores(
    context: AssetExecutionContext, storage: StorageResource, profile: ProfileResource
) -> MaterializeResult:
    directory = localize(storage.eval_images_dir)
    index = pd.read_parquet(directory / "index.parquet")
    reward = profile.load_reward(storage.reward_model_dir)
    images = torch.from_numpy(np.stack([load_png(directory / p) for p in index["path"]])) / 255.0
    labels = [None if lab < 0 else int(lab) for lab in index["label"]]
    rewards = index.assign(reward=reward.score(images, index["prompt"].tolist(), labels).numpy())
    frame = paired_scores(rewards).assign(reward_model=f"{reward.name} {reward.version}")
    version = write_parquet(frame, storage.scores_path)
    first = frame[
        (frame["cfg_scale"] == frame["cfg_scale"].iloc[0])
        & (frame["num_steps"] == frame["num_steps"].iloc[0])
    ]
    setting = f"CFG {first['cfg_scale'].iloc[0]:g}, {first['num_steps'].iloc[0]} steps"
    return MaterializeResult(
        data_version=DataVersion(version),
        metadata={
            "path": MetadataValue.path(storage.scores_path),
            "reward": f"{reward.name} {reward.version}",
            "dagster/row_count": len(frame),
            "summary": MetadataValue.md(comparison_markdown(comparison_table(first))),
            "reward_gain_distribution": histogram_plot(
                {
                    m: (g["reward_golden"] - g["reward_standard"]).to_numpy()
                    for m, g in first.groupby("method", sort=False)
                },
                f"reward(golden) - reward(standard), {setting}",
                "reward gain per (prompt, seed)",
            ),
            "preview": table(first.head(10).round(4)),
        },
    )


@asset(
    group_name=GROUP,
    deps=[AssetDep("scores"), AssetDep("eval_images")],
    code_version="1",
    automation_condition=on_data_change(),
    description=(
        "Comparison of methods: one row per method and sampling setting with mean rewards, win "
        "rate vs standard noise with its 95% Wilson CI, extra inference time per image relative "
        "to one sampling run at that setting, and parameters."
    ),
)
def comparison(storage: StorageResource) -> MaterializeResult:
    frame = build_comparison(
        pd.read_parquet(storage.scores_path),
        pd.read_parquet(join(storage.eval_images_dir, "index.parquet")),
    )
    version = write_parquet(frame, storage.comparison_path)
    return MaterializeResult(
        data_version=DataVersion(version),
        metadata={
            "path": MetadataValue.path(storage.comparison_path),
            "table": table(frame.round(4)),
            "summary": MetadataValue.md(comparison_markdown(frame)),
        },
    )


def build_comparison(scores_frame: pd.DataFrame, index: pd.DataFrame) -> pd.DataFrame:
    """comparison_table plus extra time ratio and parameters from the eval image index."""
    keys = ["method", "cfg_scale", "num_steps"]
    timing = index.groupby(keys, sort=False).agg(
        noise_s=("noise_seconds_per_image", "first"), parameters=("parameters", "first")
    )
    sampling = (
        index[index["method"] == "standard"]
        .groupby(["cfg_scale", "num_steps"])
        .agg(sampling_s=("sampling_seconds_per_image", "first"))
    )
    timing = timing.reset_index().merge(sampling.reset_index(), on=["cfg_scale", "num_steps"])
    timing["extra_time_ratio"] = timing["noise_s"] / timing["sampling_s"]
    frame = comparison_table(scores_frame).merge(
        timing[[*keys, "extra_time_ratio", "parameters"]], on=keys
    )
    return frame.sort_values(
        ["num_steps", "cfg_scale", "method"], ascending=[False, False, True]
    ).reset_index(drop=True)


def comparison_markdown(frame: pd.DataFrame) -> str:
    """The comparison as a markdown table (also printed by `make demo`)."""
    extra = "extra_time_ratio" in frame
    lines = [
        "| method | CFG | steps | reward standard | reward golden | win rate (95% CI) |"
        + (" extra time | params |" if extra else ""),
        "|---|---|---|---|---|---|" + ("---|---|" if extra else ""),
    ]
    for r in frame.itertuples():
        line = (
            f"| {r.method} | {r.cfg_scale:g} | {r.num_steps} | {r.mean_reward_standard:.4f} "
            f"| {r.mean_reward_golden:.4f} | {r.win_rate:.1%} ({r.win_rate_ci_low:.1%} - "
            f"{r.win_rate_ci_high:.1%}) |"
        )
        if extra:
            line += f" {r.extra_time_ratio:.2%} | {r.parameters:,} |"
        lines.append(line)
    return "\n".join(lines) + "\n"
