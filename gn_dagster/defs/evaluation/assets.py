"""Evaluation assets: images from standard noise, re-denoise and every golden-noise model at
each sampling setting; paired judge scores; the comparison table."""

import inspect

import numpy as np
import pandas as pd
import torch
from dagster import (
    AssetDep,
    AssetExecutionContext,
    AssetsDefinition,
    Config,
    DataVersion,
    Definitions,
    MaterializeResult,
    MetadataValue,
    asset,
    definitions,
)

from gn_dagster.automation import on_cron_if_changed, on_data_change
from gn_dagster.config import config_class, to_dataclass
from gn_dagster.metadata import histogram_plot, table
from gn_dagster.prompt_tables import read_prompts_frame
from gn_dagster.resources.models import ComputeResource, DiffusionResource, RewardResource
from gn_dagster.resources.storage import StorageResource
from gn_dagster.settings import current_settings
from gn_models.evaluation.paired_scores import (
    build_comparison,
    comparison_markdown,
    comparison_table,
    paired_scores,
)
from gn_models.evaluation.sample_images import EvalSetting, EvaluationConfig, sample_with_noise
from gn_models.golden_noise.registry import MODEL_CLASSES, load_golden_model
from gn_models.sampling.re_denoise import re_denoise
from gn_models.utils.digest import digest_tree
from gn_models.utils.fsio import join, localize, staged_write
from gn_models.utils.images import image_grid, load_png, markdown_image, save_png
from gn_models.utils.tables import write_parquet

GROUP = "evaluation"
BASELINES = ["standard", "re_denoise"]


def eval_images_config_class() -> type[Config]:
    """EvaluationConfig plus the methods (default: the baselines and every registered model)
    and the preview and PNG settings."""
    return config_class(
        "EvalImagesConfig",
        EvaluationConfig,
        extra={
            "methods": (list[str], BASELINES + list(MODEL_CLASSES)),
            "preview_columns": (int, 16),
            "png_scale": (int, 0),  # PNG upscaling (nearest); 0: images under 32 px to >= 32 px
        },
        doc=inspect.getdoc(EvaluationConfig),
    )


def load_models(methods: list[str], storage, device) -> dict:
    """method name -> (golden-noise model, parameter count) for the configured model methods."""
    models = {}
    for name in methods:
        if name not in BASELINES:
            model = load_golden_model(localize(storage.checkpoint_dir(name)), device)
            models[name] = (model.golden_noise, sum(p.numel() for p in model.parameters()))
    return models


def noise_functions(config, backend, models: dict, setting: EvalSetting):
    """method name -> (noise_fn(x_T, cond), parameters), standard noise first."""

    def oracle(x, c):
        return re_denoise(backend, x, c, config.re_denoise_cfg, 1.0, setting.num_steps)

    fns = {"standard": (lambda x, c: x, 0), "re_denoise": (oracle, 0), **models}
    return {"standard": fns["standard"]} | {m: fns[m] for m in config.methods if m != "standard"}


def eval_images_asset(train_cron: str, timezone: str) -> AssetsDefinition:
    """The evaluation images asset; its config lists every registered model."""
    images_config = eval_images_config_class()

    @asset(
        name="eval_images",
        group_name=GROUP,
        deps=[AssetDep("eval_prompts"), AssetDep("base_model")]
        + [AssetDep(kind) for kind in MODEL_CLASSES],
        code_version="3",
        pool="gpu",
        automation_condition=on_cron_if_changed(train_cron, timezone, with_requested_deps=True),
        description=(
            "Evaluation images: every evaluation prompt x E seeds sampled from standard noise "
            "x_T, from re-denoise applied at inference (the oracle: two extra UNet calls) and "
            "from each golden-noise model's output for the same x_T, at every CFG scale x DDIM "
            "step count. PNG files plus index.parquet (with noise and sampling times); preview "
            "grid in metadata. Reruns at the GN_TRAIN_CRON tick when its inputs changed."
        ),
    )
    def eval_images(
        context: AssetExecutionContext,
        config: images_config,
        storage: StorageResource,
        diffusion: DiffusionResource,
        compute: ComputeResource,
    ) -> MaterializeResult:
        return sample_eval_images(context, config, storage, diffusion, compute.device)

    return eval_images


def sample_eval_images(context, config, storage, diffusion, device) -> MaterializeResult:
    """Body of ``eval_images``: sample, write PNGs and the index, report a preview."""
    evaluation = to_dataclass(EvaluationConfig, config)
    prompts = read_prompts_frame(storage.prompts_path("eval"))
    backend = diffusion.load(storage.base_model_dir, device)
    seeds, settings = evaluation.seeds(), evaluation.settings()
    models = load_models(config.methods, storage, backend.device)
    rows, preview = [], {}
    calls, unet_rows = backend.unet_calls, backend.unet_rows  # the backend may be cached

    with staged_write(storage.eval_images_dir) as tmp, torch.no_grad():
        for setting in settings:
            for method, (fn, params) in noise_functions(config, backend, models, setting).items():
                out = sample_with_noise(backend, fn, prompts, seeds, setting, evaluation.batch_size)
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
    deps=[AssetDep("eval_images"), AssetDep("judge_reward_model")],
    code_version="3",
    automation_condition=on_data_change(),
    description=(
        "Judge reward of every evaluation image, paired with standard noise: one row per "
        "(setting, method, prompt, seed) with reward_standard, reward_golden and win (golden > "
        "standard). Parquet on disk; summary of the first setting in metadata."
    ),
)
def scores(
    context: AssetExecutionContext,
    storage: StorageResource,
    judge_reward: RewardResource,
    compute: ComputeResource,
) -> MaterializeResult:
    directory = localize(storage.eval_images_dir)
    index = pd.read_parquet(directory / "index.parquet")
    reward = judge_reward.load(storage.reward_dir("judge"), compute.device)
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


@definitions
def defs() -> Definitions:
    settings = current_settings()
    images = eval_images_asset(settings.train_cron, settings.cron_timezone)
    return Definitions(assets=[images, scores, comparison])
