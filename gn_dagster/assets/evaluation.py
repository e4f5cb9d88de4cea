"""Evaluation assets: paired images from standard and golden noise, and their reward scores."""


import numpy as np
import pandas as pd
import torch
from dagster import AssetDep, AssetExecutionContext, Config, MaterializeResult, MetadataValue, asset

from gn_dagster.assets.prompts import read_prompts_frame
from gn_dagster.atomic import atomic_path, write_parquet
from gn_dagster.metadata import table
from gn_dagster.resources import DigitsProfileResource, StorageResource
from gn_models.evaluation import generate_eval_images, score_table, summarize_scores
from gn_models.images import comparison_grid, load_png, markdown_image, save_png
from gn_models.noise_net import FiLMNoiseNet

GROUP = "evaluation"


class EvalImagesConfig(Config):
    seeds_per_prompt: int = 10  # E seeds per evaluation prompt
    first_seed: int = 1_000_000  # seeds first_seed .. first_seed + E - 1, apart from training
    cfg_scale: float = 5.5
    num_steps: int = 10
    batch_size: int = 256
    preview_columns: int = 16
    png_scale: int = 4  # PNGs are upscaled (nearest) so 8x8 digits are visible


@asset(
    group_name=GROUP,
    deps=[AssetDep("eval_prompts"), AssetDep("npnet"), AssetDep("base_model")],
    code_version="1",
    pool="gpu",
    description=(
        "Evaluation images: every evaluation prompt x E seeds sampled twice with the same "
        "sampler, once from standard noise x_T and once from the model's golden noise. PNG files "
        "plus index.parquet; preview grid (standard row above golden row) in metadata."
    ),
)
def eval_images(context: AssetExecutionContext, config: EvalImagesConfig,
                storage: StorageResource, profile: DigitsProfileResource) -> MaterializeResult:
    prompts = read_prompts_frame(storage.prompts_dir / "eval.parquet")
    backend = profile.load_backend(storage.base_model_dir)
    model = FiLMNoiseNet.load(storage.npnet_dir, backend.device)
    seeds = list(range(config.first_seed, config.first_seed + config.seeds_per_prompt))
    images = generate_eval_images(backend, model, prompts, seeds, config.cfg_scale,
                                  config.num_steps, config.batch_size)
    rows = []
    with atomic_path(storage.eval_images_dir) as tmp:
        for i in range(len(images.seed)):
            names = {kind: f"{kind}/{i:05d}_seed{images.seed[i]}.png"
                     for kind in ("standard", "golden")}
            save_png(images.image_standard[i], tmp / names["standard"], config.png_scale)
            save_png(images.image_golden[i], tmp / names["golden"], config.png_scale)
            rows.append({"prompt": images.prompt[i], "label": int(images.label[i]),
                         "seed": int(images.seed[i]), "standard": names["standard"],
                         "golden": names["golden"]})
        pd.DataFrame(rows).to_parquet(tmp / "index.parquet", index=False)
        # one column per prompt (its first seed), so the preview spans the prompts
        preview = np.arange(0, len(rows), config.seeds_per_prompt)[: config.preview_columns]
        grid = comparison_grid(images.image_standard[preview], images.image_golden[preview], scale=6)
        grid.save(tmp / "preview.png")
    return MaterializeResult(metadata={
        "path": MetadataValue.path(str(storage.eval_images_dir)),
        "num_pairs": len(rows),
        "num_prompts": len(prompts),
        "seeds": f"{seeds[0]}..{seeds[-1]}",
        "cfg_scale": config.cfg_scale,
        "num_steps": config.num_steps,
        "preview": MetadataValue.md(
            "Top row: standard noise x_T. Bottom row: golden noise (same seed and prompt).\n\n"
            + markdown_image(grid, "standard vs golden")),
    })


def read_eval_images(directory) -> tuple[pd.DataFrame, torch.Tensor, torch.Tensor]:
    """The index and the images (N, C, H, W) float32 in [0, 1] of both kinds."""
    index = pd.read_parquet(directory / "index.parquet")
    stacks = [torch.from_numpy(np.stack([load_png(directory / p) for p in index[kind]])) / 255.0
              for kind in ("standard", "golden")]
    return index, stacks[0], stacks[1]


@asset(
    group_name=GROUP,
    deps=[AssetDep("eval_images"), AssetDep("reward_model")],
    code_version="1",
    description=(
        "Reward of every evaluation image pair: one row per (prompt, seed) with reward_standard, "
        "reward_golden and win (golden > standard); summary with the win rate and its 95% "
        "Wilson confidence interval. Parquet on disk."
    ),
)
def scores(context: AssetExecutionContext, storage: StorageResource,
           profile: DigitsProfileResource) -> MaterializeResult:
    index, standard, golden = read_eval_images(storage.eval_images_dir)
    reward = profile.load_reward(storage.reward_model_dir)
    prompts = index["prompt"].tolist()
    labels = [None if lab < 0 else int(lab) for lab in index["label"]]
    frame = score_table(
        index, reward.score(standard, prompts, labels).numpy(),
        reward.score(golden, prompts, labels).numpy(),
    ).assign(reward=f"{reward.name} {reward.version}")
    write_parquet(frame, storage.scores_path)
    summary = summarize_scores(frame)
    per_prompt = frame.groupby("prompt", sort=False).agg(
        reward_standard=("reward_standard", "mean"), reward_golden=("reward_golden", "mean"),
        win_rate=("win", "mean")).reset_index()
    return MaterializeResult(metadata={
        "path": MetadataValue.path(str(storage.scores_path)),
        "reward": f"{reward.name} {reward.version}",
        "dagster/row_count": len(frame),
        **summary,
        "summary": MetadataValue.md(summary_markdown(summary)),
        "per_prompt": table(per_prompt.round(4)),
    })


def summary_markdown(summary: dict) -> str:
    """The score summary as a markdown table (also printed by `make demo`)."""
    return (
        "| metric | value |\n|---|---|\n"
        f"| pairs (prompt x seed) | {summary['n']} |\n"
        f"| mean reward, standard noise | {summary['mean_reward_standard']:.4f} |\n"
        f"| mean reward, golden noise | {summary['mean_reward_golden']:.4f} |\n"
        f"| mean gain | {summary['mean_gain']:+.4f} |\n"
        f"| win rate (golden > standard) | {summary['win_rate']:.1%} "
        f"(95% CI {summary['win_rate_ci_low']:.1%} - {summary['win_rate_ci_high']:.1%}) |\n"
    )
