"""The evaluation images: standard noise, the re-denoise oracle and every golden-noise model,
from the same x_T, at each sampling setting."""

import functools
import inspect

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

from gn_dagster.automation import on_cron_if_changed
from gn_dagster.config import config_class, to_dataclass
from gn_dagster.metadata import figure_markdown, table, truncation_metadata
from gn_dagster.prompt_tables import read_prompts_frame
from gn_dagster.resources.models import ComputeResource, DiffusionResource
from gn_dagster.resources.storage import StorageResource
from gn_dagster.settings import current_settings
from gn_models.evaluation.plots import labelled_grid_figure
from gn_models.evaluation.sample_images import (
    EvalSetting,
    EvaluationConfig,
    chain_method,
    chain_oracle_noise,
    evaluation_inputs,
    method_noise,
    sample_noise,
)
from gn_models.golden_noise.registry import MODEL_CLASSES, load_golden_model
from gn_models.sampling.gaussian_shell import noise_statistics
from gn_models.sampling.re_denoise import re_denoise
from gn_models.utils.digest import digest_tree
from gn_models.utils.finite import require_finite
from gn_models.utils.images import save_png
from gn_models.utils.versions import localize, staged_folder

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
            "preview_columns": (int, 10),  # the first prompts: digits 0-9
            "png_scale": (int, 0),  # PNG upscaling (nearest); 0: images under 32 px to >= 32 px
        },
        doc=inspect.getdoc(EvaluationConfig),
    )


def load_models(methods: list[str], storage, device) -> dict:
    """method name -> golden-noise model for the configured model methods."""
    return {
        name: load_golden_model(localize(storage.checkpoint_dir(name)), device)
        for name in methods
        if name not in BASELINES
    }


def setting_noise(config, backend, inputs, models: dict, setting: EvalSetting, chain: dict):
    """method name -> (noise (N, C, H, W), seconds, parameters) at ``setting``: standard noise
    first, the oracle, the chain-oracle rows of ``chain`` (``chain_rows``), then the models
    (their rollout length for this CFG scale)."""
    batch = config.batch_size

    def oracle(x, c):
        return re_denoise(backend, x, c, config.re_denoise_cfg, 1.0, setting.num_steps)

    chain = chain if setting.cfg_scale in config.chain_cfg_scales else {}
    noise = {"standard": (inputs.x_T, 0.0, 0)}
    if "re_denoise" in config.methods and "re_denoise" not in chain:
        noise["re_denoise"] = (*method_noise(backend, oracle, inputs, batch), 0)
    noise |= {name: (x, seconds, 0) for name, (x, seconds) in chain.items()}
    for name, model in models.items():
        fn = functools.partial(model.golden_noise, cfg_scale=setting.cfg_scale)
        params = sum(p.numel() for p in model.parameters())
        noise[name] = (*method_noise(backend, fn, inputs, batch), params)
    for name, (x, _, _) in noise.items():
        require_finite(x, f"eval_images, {setting.name}: the noise of {name!r}")
    return noise


def chain_rows(config, backend, inputs, num_steps: int) -> dict:
    """The chain-oracle rows at ``num_steps`` (none where ``chain_step_counts`` or
    ``chain_cfg_scales`` leave it out): method name -> (x'_k, seconds), without and with
    renormalization."""
    if (
        num_steps not in config.chain_step_counts
        or not config.chain_lengths
        or not set(config.chain_cfg_scales) & set(config.cfg_scales)
    ):
        return {}
    rows = {}
    for renormalize in (False, True):
        states = chain_oracle_noise(
            backend,
            inputs,
            config.chain_lengths,
            renormalize,
            config.re_denoise_cfg,
            num_steps,
            config.batch_size,
        )
        rows |= {chain_method(k, renormalize): state for k, state in states.items()}
    return rows


def eval_images_asset(train_cron: str, timezone: str) -> AssetsDefinition:
    """The evaluation images asset; its config lists every registered model."""
    images_config = eval_images_config_class()

    @asset(
        name="eval_images",
        group_name=GROUP,
        deps=[AssetDep("eval_prompts"), AssetDep("base_model")]
        + [AssetDep(kind) for kind in MODEL_CLASSES],
        code_version="4",
        pool="gpu",
        automation_condition=on_cron_if_changed(train_cron, timezone, with_requested_deps=True),
        description=(
            "Evaluation images: every evaluation prompt x E seeds sampled from standard noise "
            "x_T, from re-denoise applied at inference (the oracle: two extra UNet calls), from "
            "the chain oracles (re-denoise applied k times, with and without renormalization "
            "to ||x_T||; at the chain step counts) and from each golden-noise model's output "
            "for the same x_T, at every CFG scale x DDIM step count. PNG files, index.parquet, "
            "noise_stats.parquet (||x|| and the entries' distribution per method and setting) "
            "and timings.parquet; preview grid in metadata. Reruns at the GN_TRAIN_CRON tick "
            "when its inputs changed."
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
    """Body of ``eval_images``: sample, write the PNGs, ``index.parquet`` and
    ``noise_stats.parquet`` (the data version digests these), then ``timings.parquet`` and
    ``preview.png`` (wall times and a figure: not content, not in the data version)."""
    evaluation = to_dataclass(EvaluationConfig, config)
    prompts = read_prompts_frame(storage.prompts_path("eval"))
    backend = diffusion.load(storage.base_model_dir, device)
    seeds, settings = evaluation.seeds(), evaluation.settings()
    models = load_models(config.methods, storage, backend.device)
    inputs = evaluation_inputs(backend, prompts, seeds)
    rows, timings, stats, preview = [], [], [], {}
    calls, unet_rows = backend.unet_calls, backend.unet_rows  # the backend may be cached
    x_T = inputs.x_T.float().cpu().numpy()

    with staged_folder(storage.eval_images_dir) as stage, torch.no_grad():
        tmp = stage.path
        for num_steps in evaluation.step_counts:
            chain = chain_rows(config, backend, inputs, num_steps)
            for setting in [s for s in settings if s.num_steps == num_steps]:
                noises = setting_noise(config, backend, inputs, models, setting, chain)
                for method, (noise, noise_s, params) in noises.items():
                    out = sample_noise(backend, noise, noise_s, inputs, setting, config.batch_size)
                    context.log.info(f"{setting.name} {method}: {len(out.images)} images")
                    rows += _write_pngs(tmp, out, setting, method, params, prompts, inputs, config)
                    timings.append(_timing(out, setting, method))
                    stats.append(_keys(setting, method) | noise_statistics(out.noise, x_T))
                    if setting == settings[0]:
                        preview[method] = out.images[:: len(seeds)][: config.preview_columns]
        pd.DataFrame(rows).to_parquet(tmp / "index.parquet", index=False)
        pd.DataFrame(stats).to_parquet(tmp / "noise_stats.parquet", index=False)
        version = DataVersion(digest_tree(tmp))
        pd.DataFrame(timings).to_parquet(tmp / "timings.parquet", index=False)
        labels = [p.text for p in prompts[: config.preview_columns]]
        figure = labelled_grid_figure(preview, labels)
        grid = figure_markdown(figure, "evaluation preview", str(tmp / "preview.png"))
    return MaterializeResult(
        data_version=version,
        metadata={
            "path": MetadataValue.path(storage.eval_images_dir),
            "storage_version": stage.version,
            "num_images": len(rows),
            "unet_calls": backend.unet_calls - calls,
            "unet_rows": backend.unet_rows - unet_rows,
            "num_prompts": len(prompts),
            **truncation_metadata(backend, prompts, context.log),
            "seed_indices": f"{seeds[0]}..{seeds[-1]}",
            "settings": ", ".join(s.name for s in settings),
            "methods": ", ".join(preview),
            "timings": table(pd.DataFrame(timings).round(6)),
            "noise_statistics": table(pd.DataFrame(stats).round(4)),
            "preview": MetadataValue.md(
                f"{settings[0].name}, first seed. Rows: the method; columns: the evaluation "
                "prompt; every image of a column starts from the same x_T.\n\n" + grid.value
            ),
        },
    )


def _keys(setting: EvalSetting, method: str) -> dict:
    return {"cfg_scale": setting.cfg_scale, "num_steps": setting.num_steps, "method": method}


def _timing(out, setting: EvalSetting, method: str) -> dict:
    return {
        **_keys(setting, method),
        "noise_seconds_per_image": out.noise_seconds / len(out.images),
        "sampling_seconds_per_image": out.sampling_seconds / len(out.images),
    }


def _write_pngs(directory, out, setting, method, params, prompts, inputs, config) -> list[dict]:
    rows = []
    scale = config.png_scale or max(1, 32 // max(out.images.shape[-2:]))
    per_prompt = len(inputs.seeds) // len(prompts)
    for i, image in enumerate(out.images):
        prompt, seed = prompts[i // per_prompt], inputs.seeds[i]
        path = f"{setting.name}/{method}/{i:05d}_seed{seed}.png"
        save_png(image, directory / path, scale)
        rows.append(
            {
                **_keys(setting, method),
                "prompt": prompt.text,
                "label": -1 if prompt.label is None else prompt.label,
                "seed": seed,
                "noise_seed": inputs.noise_seeds[i],
                "path": path,
                "parameters": params,
            }
        )
    return rows


@definitions
def defs() -> Definitions:
    settings = current_settings()
    images = eval_images_asset(settings.train_cron, settings.cron_timezone)
    return Definitions(assets=[images])
