"""``golden-noise generate``: standard and golden images of the same seeds, side by side.

Writes ``OUT/standard/`` and ``OUT/golden/`` (the same file names: ``NNNN_sSEED.png``, each
folder with a ``metadata.csv`` of file_name, prompt, seed, so ``golden-noise score`` and
``golden-noise compare`` read them as they are) and ``OUT/grid.png`` (a row per image pair,
standard left, golden right; the first ``GRID_ROWS`` pairs). The metadata files are written
last: a folder without one is an interrupted run.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
import pandas as pd
from tqdm import tqdm

GRID_ROWS = 16
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


@click.command()
@click.option(
    "--pipeline",
    "-p",
    "pipeline_path",
    required=True,
    help="A diffusers pipeline: a local folder with model_index.json, or a Hub repo id "
    "already in the Hugging Face cache (e.g. stabilityai/stable-diffusion-xl-base-1.0). "
    "Nothing is downloaded.",
)
@click.option(
    "--golden",
    "-g",
    "golden_path",
    required=True,
    type=click.Path(exists=True, path_type=Path),
    help="The golden-noise model: a checkpoint folder of this project, or a released NPNet "
    ".pth file (with --family).",
)
@click.option(
    "--family",
    help="Family of a released NPNet .pth: sdxl (also SDXL-Lightning, LCM, PCM), "
    "dreamshaper or hunyuan-dit.",
)
@click.option("--prompt", "prompts", multiple=True, help="A prompt; repeat for several.")
@click.option(
    "--prompts",
    "prompt_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A prompt file: TXT (one per line) or CSV (a prompt/caption/text column).",
)
@click.option(
    "--seed",
    "seeds",
    multiple=True,
    type=int,
    default=(0,),
    show_default=True,
    help="A seed; repeat for several. Every prompt is sampled with every seed.",
)
@click.option("--steps", type=int, help="num_inference_steps (default: the pipeline's).")
@click.option("--cfg", "guidance_scale", type=float, help="guidance_scale, the CFG scale.")
@click.option("--height", type=int, help="Image height in pixels (default: the pipeline's).")
@click.option("--width", type=int, help="Image width in pixels (default: the pipeline's).")
@click.option(
    "--sampler",
    help="A diffusers scheduler class to sample with, e.g. EulerDiscreteScheduler "
    "(SDXL-Lightning, with --sampler-config timestep_spacing=trailing), LCMScheduler, "
    "TCDScheduler, DDIMScheduler. Default: the pipeline's own.",
)
@click.option(
    "--sampler-config",
    "sampler_options",
    multiple=True,
    metavar="KEY=VALUE",
    help="A scheduler config override for --sampler; repeat for several.",
)
@click.option("--variant", help="Weights variant, e.g. fp16 for *.fp16.safetensors.")
@click.option(
    "--dtype", default="auto", show_default=True, help="auto, float16, bfloat16, float32."
)
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:1, ...")
@click.option("--batch-size", default=1, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--out",
    "-o",
    "out",
    default="golden-noise-images",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Output folder.",
)
@click.option("--overwrite", is_flag=True, help="Replace images an earlier run wrote in --out.")
def generate(
    pipeline_path,
    golden_path,
    family,
    prompts,
    prompt_file,
    seeds,
    steps,
    guidance_scale,
    height,
    width,
    sampler,
    sampler_options,
    variant,
    dtype,
    device,
    batch_size,
    out,
    overwrite,
):
    """Sample each prompt and seed from standard noise x_T and from its golden noise.

    \b
    Example (SDXL with the released NPNet for SDXL):
      golden-noise generate -p stabilityai/stable-diffusion-xl-base-1.0 --variant fp16 \\
        -g sdxl.pth --family sdxl --prompt "a red cube on a blue sphere" --seed 0 --seed 1
    """
    from gn_models.golden_latents import GoldenNoise, PipelineMismatchError

    rows = _rows(_prompts(prompts, prompt_file), seeds)
    _check_out(out, overwrite)
    try:
        golden = GoldenNoise.from_pretrained(golden_path, family)
    except (FileNotFoundError, ValueError) as err:
        raise click.ClickException(str(err)) from err
    pipe = _load(pipeline_path, device, dtype, variant, sampler, sampler_options)
    call = {"num_inference_steps": steps, "guidance_scale": guidance_scale}
    call |= {"height": height, "width": width}
    call = {k: v for k, v in call.items() if v is not None}
    names = [f"{i:04d}_s{seed}.png" for i, (_, seed) in enumerate(rows)]
    pairs = []
    for start in tqdm(range(0, len(rows), batch_size), desc="generate", unit="batch"):
        batch = rows[start : start + batch_size]
        try:
            images = golden.images(pipe, [p for p, _ in batch], [s for _, s in batch], **call)
        except PipelineMismatchError as err:  # raised before anything is sampled
            raise click.ClickException(str(err)) from err
        batch_names = names[start : start + len(batch)]
        for name, standard, gold in zip(batch_names, images.standard, images.golden, strict=True):
            standard.save(out / "standard" / name)
            gold.save(out / "golden" / name)
            if len(pairs) < GRID_ROWS:
                pairs.append((standard, gold))
    _write_grid(pairs, out / "grid.png")
    metadata = pd.DataFrame({"file_name": names, "prompt": [p for p, _ in rows]})
    metadata["seed"] = [s for _, s in rows]
    for folder in ("standard", "golden"):
        metadata.to_csv(out / folder / "metadata.csv", index=False)
    click.echo(f"{len(rows)} standard and golden images in {out}/ (side by side: {out}/grid.png)")


def _prompts(prompts: tuple[str, ...], prompt_file: Path | None) -> list[str]:
    from gn_models.data.prompt_files import read_prompt_file
    from gn_models.data.prompt_rows import PromptFileError

    texts = list(prompts)
    if prompt_file is not None:
        try:
            texts += [p.text for p in read_prompt_file(prompt_file)]
        except PromptFileError as err:
            raise click.BadParameter(str(err), param_hint="--prompts") from err
    if not texts:
        raise click.UsageError("Give a prompt: --prompt TEXT (repeatable) or --prompts FILE.")
    return texts


def _rows(prompts: list[str], seeds: tuple[int, ...]) -> list[tuple[str, int]]:
    return [(prompt, seed) for prompt in prompts for seed in seeds]


def _check_out(out: Path, overwrite: bool) -> None:
    """Create the output folders; refuse to mix with an earlier run's images unless told."""
    for folder in (out / "standard", out / "golden"):
        if not overwrite and folder.is_dir():
            if any(p.suffix.lower() in IMAGE_SUFFIXES for p in folder.iterdir()):
                raise click.UsageError(
                    f"{folder} already holds images; pass --overwrite to replace them or "
                    "choose another --out."
                )
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "metadata.csv").unlink(missing_ok=True)  # written again when complete


def _load(path, device, dtype, variant, sampler, sampler_options):
    """The pipeline on its device, with ``sampler`` swapped in (config from the pipeline's)."""
    import diffusers

    from gn_models.backends.diffusers_backend import is_scheduler
    from gn_models.backends.pipelines import load_supported_pipeline
    from gn_models.utils.device import resolve_device

    try:
        pipe = load_supported_pipeline(path, resolve_device(device), dtype, variant or None)
    except (FileNotFoundError, ValueError) as err:
        raise click.ClickException(str(err)) from err
    if sampler:
        if not is_scheduler(sampler):
            raise click.BadParameter(f"{sampler!r} is not a diffusers scheduler class.")
        options = dict(_key_value(o) for o in sampler_options)
        pipe.scheduler = getattr(diffusers, sampler).from_config(pipe.scheduler.config, **options)
    elif sampler_options:
        raise click.UsageError("--sampler-config needs --sampler.")
    pipe.set_progress_bar_config(leave=False)
    return pipe


def _key_value(option: str) -> tuple[str, object]:
    """KEY=VALUE with VALUE read as JSON (numbers, true/false, null, lists), else a string."""
    key, sep, value = option.partition("=")
    if not sep or not key:
        raise click.BadParameter(f"{option!r}: use KEY=VALUE.", param_hint="--sampler-config")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value  # trailing, leading, linspace, ...


def _write_grid(pairs: list, path: Path) -> None:
    from diffusers.utils import make_image_grid

    images = [image for pair in pairs for image in pair]
    make_image_grid(images, rows=len(pairs), cols=2).save(path)
