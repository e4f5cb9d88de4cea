"""The evaluation images: standard noise, the re-denoise oracle and every golden-noise model,
from the same x_T, at each sampling setting."""

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
from gn_dagster.metadata import figure_markdown, table
from gn_dagster.prompt_tables import read_prompts_frame
from gn_dagster.resources.models import ComputeResource, DiffusionResource
from gn_dagster.resources.storage import StorageResource
from gn_dagster.settings import current_settings
from gn_models.evaluation.plots import labelled_grid_figure
from gn_models.evaluation.sample_images import EvalSetting, EvaluationConfig, sample_with_noise
from gn_models.golden_noise.registry import MODEL_CLASSES, load_golden_model
from gn_models.sampling.re_denoise import re_denoise
from gn_models.utils.digest import digest_tree
from gn_models.utils.fsio import localize, staged_write
from gn_models.utils.images import save_png

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
    """Body of ``eval_images``: sample, write the PNGs and ``index.parquet`` (the data version
    digests these), then ``timings.parquet`` and ``preview.png`` (wall times and a figure: not
    content, not in the data version)."""
    evaluation = to_dataclass(EvaluationConfig, config)
    prompts = read_prompts_frame(storage.prompts_path("eval"))
    backend = diffusion.load(storage.base_model_dir, device)
    seeds, settings = evaluation.seeds(), evaluation.settings()
    models = load_models(config.methods, storage, backend.device)
    rows, timings, preview = [], [], {}
    calls, unet_rows = backend.unet_calls, backend.unet_rows  # the backend may be cached

    with staged_write(storage.eval_images_dir) as tmp, torch.no_grad():
        for setting in settings:
            for method, (fn, params) in noise_functions(config, backend, models, setting).items():
                out = sample_with_noise(backend, fn, prompts, seeds, setting, evaluation.batch_size)
                context.log.info(f"{setting.name} {method}: {len(out.images)} images")
                rows += _write_pngs(tmp, out, setting, method, params, prompts, seeds, config)
                timings.append(_timing(out, setting, method))
                if setting == settings[0]:
                    preview[method] = out.images[:: len(seeds)][: config.preview_columns]
        pd.DataFrame(rows).to_parquet(tmp / "index.parquet", index=False)
        version = DataVersion(digest_tree(tmp))
        pd.DataFrame(timings).to_parquet(tmp / "timings.parquet", index=False)
        labels = [p.text for p in prompts[: config.preview_columns]]
        figure = labelled_grid_figure(preview, labels)
        grid = figure_markdown(figure, "evaluation preview", str(tmp / "preview.png"))
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
            "timings": table(pd.DataFrame(timings).round(6)),
            "preview": MetadataValue.md(
                f"{settings[0].name}, first seed. Rows: the method; columns: the evaluation "
                "prompt; every image of a column starts from the same x_T.\n\n" + grid.value
            ),
        },
    )


def _timing(out, setting: EvalSetting, method: str) -> dict:
    return {
        "method": method,
        "cfg_scale": setting.cfg_scale,
        "num_steps": setting.num_steps,
        "noise_seconds_per_image": out.noise_seconds / len(out.images),
        "sampling_seconds_per_image": out.sampling_seconds / len(out.images),
    }


def _write_pngs(directory, out, setting, method, params, prompts, seeds, config) -> list[dict]:
    rows = []
    scale = config.png_scale or max(1, 32 // max(out.images.shape[-2:]))
    jobs = [(p, s) for p in prompts for s in seeds]
    for i, ((prompt, seed), image) in enumerate(zip(jobs, out.images, strict=True)):
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
            }
        )
    return rows


@definitions
def defs() -> Definitions:
    settings = current_settings()
    images = eval_images_asset(settings.train_cron, settings.cron_timezone)
    return Definitions(assets=[images])
