"""The library API on tiny random SD/SDXL pipelines: golden latents for ``latents=``, the
standard and golden images of one seed, checkpoints of ours and released NPNet files, and a
clear refusal of a model that does not fit the pipeline (before any sampling)."""

import numpy as np
import pytest
import torch
from diffusers import DiffusionPipeline

from gn_models.backends.pipelines import backend_for_pipeline, load_supported_pipeline
from gn_models.golden_latents import GoldenNoise, PipelineMismatchError
from gn_models.utils.versions import staged_folder
from helpers.golden import save_npnet_for, save_tiny_sdxl_npnet
from helpers.tiny_dit_pipelines import build_tiny_hunyuan_dit, build_tiny_pixart_sigma
from helpers.tiny_pipelines import build_tiny_sd, build_tiny_sdxl

PROMPTS = ["a red cat", "a blue dog"]


@pytest.fixture(scope="module")
def sdxl(tmp_path_factory):
    path = build_tiny_sdxl(tmp_path_factory.mktemp("sdxl"))
    return DiffusionPipeline.from_pretrained(path, local_files_only=True)


@pytest.fixture(scope="module")
def sd(tmp_path_factory):
    path = build_tiny_sd(tmp_path_factory.mktemp("sd"))
    return DiffusionPipeline.from_pretrained(path, local_files_only=True)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    folder = tmp_path_factory.mktemp("npnet")
    return folder, save_tiny_sdxl_npnet(folder)


def count_unet_calls(pipe) -> list:
    calls = []
    pipe.unet.register_forward_hook(lambda *_: calls.append(1))
    return calls


def test_three_lines_give_the_models_golden_noise_of_the_seeds_x_T(sdxl, checkpoint):
    folder, model = checkpoint
    golden = GoldenNoise.from_pretrained(folder)
    latents = golden.latents(sdxl, PROMPTS, seed=[3, 4])
    image = sdxl(PROMPTS, latents=latents, num_inference_steps=2, output_type="pt").images
    assert image.shape == (2, 3, 64, 64) and torch.isfinite(image).all()

    x_T = torch.stack(
        [torch.randn(4, 8, 8, generator=torch.Generator().manual_seed(s)) for s in (3, 4)]
    )
    embeds = backend_for_pipeline(sdxl).encode_prompts(PROMPTS)
    torch.testing.assert_close(latents, model(x_T, embeds))
    assert latents.dtype == sdxl.unet.dtype and not torch.allclose(latents, x_T)
    alone = golden.latents(sdxl, PROMPTS[1], seed=4)  # a (prompt, seed) alone = in the batch
    torch.testing.assert_close(alone, latents[1:])


def test_images_are_the_pipeline_from_x_T_and_from_its_golden_noise(sdxl, checkpoint):
    golden = GoldenNoise.from_pretrained(checkpoint[0])
    call = {"num_inference_steps": 2, "guidance_scale": 3.0}
    result = golden.images(sdxl, PROMPTS, seed=7, **call)
    x_T, x_golden = golden.noise_pair(sdxl, PROMPTS, 7)
    torch.testing.assert_close(x_T[0], x_T[1])  # one seed for every prompt
    for images, latents in ((result.standard, x_T), (result.golden, x_golden)):
        expected = sdxl(PROMPTS, latents=latents, output_type="np", **call).images
        got = np.stack([np.asarray(image) for image in images]) / 255
        np.testing.assert_allclose(got, expected, atol=1 / 255 + 1e-6)  # PIL rounds to 8 bits
    assert result.prompts == PROMPTS and result.seeds == [7, 7]
    assert [im.size for im in result.golden] == [(64, 64)] * 2
    assert result.golden[0].tobytes() != result.standard[0].tobytes()
    assert result.grid().size == (128, 128)  # 2 prompts x (standard | golden)


def test_a_model_of_another_family_is_refused_before_sampling(sd, checkpoint):
    golden = GoldenNoise.from_pretrained(checkpoint[0])  # built for 77 x 96 embeddings
    calls = count_unet_calls(sd)
    with pytest.raises(PipelineMismatchError, match=r"embed_dim: model 96, pipeline 32"):
        golden.images(sd, "a cat", num_inference_steps=2)
    with pytest.raises(PipelineMismatchError, match=r"height: model 8, pipeline 16.*width"):
        golden.latents(sd, "a cat", height=128, width=128)
    assert calls == []


def test_user_pipeline_keeps_its_progress_bar_settings(sdxl, checkpoint):
    sdxl.set_progress_bar_config(desc="mine")
    GoldenNoise.from_pretrained(checkpoint[0]).latents(sdxl, "a cat")
    assert sdxl._progress_bar_config == {"desc": "mine"}


def test_bad_paths_and_arguments(tmp_path, sdxl, checkpoint):
    with pytest.raises(FileNotFoundError, match="No golden-noise model at"):
        GoldenNoise.from_pretrained(tmp_path / "nothing")
    pth = tmp_path / "npnet.pth"
    pth.write_bytes(b"")
    with pytest.raises(ValueError, match="name the family"):
        GoldenNoise.from_pretrained(pth)
    with pytest.raises(ValueError, match="2 prompts and 3 seeds"):
        GoldenNoise.from_pretrained(checkpoint[0]).latents(sdxl, PROMPTS, seed=[1, 2, 3])


def test_a_model_assets_versioned_folder_loads_its_current_version(tmp_path, sdxl):
    """The graph's checkpoints/<model> folders hold versions and a CURRENT pointer."""
    url = tmp_path / "checkpoints" / "npnet"
    for seed in (1, 2):  # two publishes: the second is current
        with staged_folder(url) as stage:
            model = save_tiny_sdxl_npnet(stage.path, seed=seed)
    x_T, golden = GoldenNoise.from_pretrained(url).noise_pair(sdxl, "a cat", 0)
    embeds = backend_for_pipeline(sdxl).encode_prompts(["a cat"])
    torch.testing.assert_close(golden, model(x_T, embeds))


@pytest.mark.parametrize("build", [build_tiny_hunyuan_dit, build_tiny_pixart_sigma, build_tiny_sd])
def test_three_lines_on_dit_and_sd_pipelines(tmp_path, build):
    pipe = load_supported_pipeline(build(tmp_path / "pipe"))
    model = save_npnet_for(pipe, tmp_path / "npnet")
    golden = GoldenNoise.from_pretrained(tmp_path / "npnet")
    latents = golden.latents(pipe, "a red cat", seed=3)
    backend = backend_for_pipeline(pipe)
    size = {"height": backend.height, "width": backend.width}  # the tiny DiTs' (not 1024)
    if build is not build_tiny_sd:
        size["use_resolution_binning"] = False  # binning would round 64 px up to 1024
    image = pipe("a red cat", latents=latents, num_inference_steps=2, output_type="pt", **size)
    assert image.images.shape[:2] == (1, 3) and torch.isfinite(image.images).all()
    x_T = backend.initial_noise([3])
    torch.testing.assert_close(latents, model(x_T, backend.encode_prompts(["a red cat"])))
