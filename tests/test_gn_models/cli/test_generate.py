"""`golden-noise generate` on a tiny random SDXL pipeline and a golden-noise checkpoint of ours:
the files it writes, that they are the library API's images, and its refusals."""

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from diffusers import DiffusionPipeline
from PIL import Image

from gn_models.cli.generate import generate
from gn_models.golden_latents import GoldenNoise
from helpers.golden import save_tiny_sdxl_npnet
from helpers.tiny_pipelines import build_tiny_sd, build_tiny_sdxl


@pytest.fixture(scope="module")
def parts(tmp_path_factory):
    root = tmp_path_factory.mktemp("generate")
    save_tiny_sdxl_npnet(root / "npnet")
    return build_tiny_sdxl(root / "sdxl"), root / "npnet"


def run(*args):
    return CliRunner().invoke(generate, [str(a) for a in args], catch_exceptions=False)


def test_writes_pairs_metadata_and_grid_equal_to_the_api(parts, tmp_path):
    pipeline, npnet = parts
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("a red cat\na blue dog\n")
    out = tmp_path / "out"
    call = ["--steps", 2, "--cfg", 3.0, "--seed", 5, "--seed", 6]
    result = run(
        "-p", pipeline, "-g", npnet, "--prompts", prompts, "-o", out, "--batch-size", 3, *call
    )
    assert result.exit_code == 0, result.output
    assert "4 standard and golden images" in result.output
    metadata = pd.read_csv(out / "golden" / "metadata.csv")
    assert metadata.to_dict("list") == {
        "file_name": ["0000_s5.png", "0001_s6.png", "0002_s5.png", "0003_s6.png"],
        "prompt": ["a red cat", "a red cat", "a blue dog", "a blue dog"],
        "seed": [5, 6, 5, 6],
    }
    assert metadata.equals(pd.read_csv(out / "standard" / "metadata.csv"))
    assert Image.open(out / "grid.png").size == (128, 4 * 64)

    pipe = DiffusionPipeline.from_pretrained(pipeline, local_files_only=True)
    expected = GoldenNoise.from_pretrained(npnet).images(
        pipe, "a blue dog", 6, num_inference_steps=2, guidance_scale=3.0
    )
    for folder, image in (("standard", expected.standard[0]), ("golden", expected.golden[0])):
        written = np.asarray(Image.open(out / folder / "0003_s6.png"), dtype=int)
        assert np.abs(written - np.asarray(image, dtype=int)).max() <= 1  # batch 3 vs 1
    standard = np.asarray(Image.open(out / "standard" / "0003_s6.png"))
    assert not np.array_equal(standard, np.asarray(Image.open(out / "golden" / "0003_s6.png")))

    again = CliRunner().invoke(
        generate, ["-p", str(pipeline), "-g", str(npnet), "--prompt", "x", "-o", str(out)]
    )
    assert again.exit_code != 0 and "already holds images; pass --overwrite" in again.output
    assert (out / "golden" / "metadata.csv").is_file()  # nothing of the earlier run was lost


def test_a_sampler_from_the_command_line(parts, tmp_path):
    pipeline, npnet = parts
    args = ["-p", pipeline, "-g", npnet, "--prompt", "a cat", "--steps", 2, "-o", tmp_path]
    lightning = [
        "--sampler",
        "EulerDiscreteScheduler",
        "--sampler-config",
        "timestep_spacing=trailing",
    ]
    assert run(*args, *lightning).exit_code == 0
    bad = CliRunner().invoke(
        generate, [str(a) for a in args] + ["--overwrite", "--sampler", "Nope"]
    )
    assert bad.exit_code != 0 and "'Nope' is not a diffusers scheduler class" in bad.output


def test_clean_errors(parts, tmp_path):
    pipeline, npnet = parts
    sd = build_tiny_sd(tmp_path / "sd")

    def error(*args):
        result = CliRunner().invoke(generate, [str(a) for a in args])
        assert result.exit_code != 0 and "Traceback" not in result.output
        return result.output

    assert "Give a prompt" in error("-p", pipeline, "-g", npnet, "-o", tmp_path / "a")
    assert "embed_dim: model 96, pipeline 32" in error(
        "-p", sd, "-g", npnet, "--prompt", "a cat", "-o", tmp_path / "b"
    )
    assert "nor a released NPNet" in error("-p", pipeline, "-g", __file__, "--prompt", "x")
    assert "No diffusers pipeline found" in error(
        "-p", tmp_path / "none", "-g", npnet, "--prompt", "x"
    )
