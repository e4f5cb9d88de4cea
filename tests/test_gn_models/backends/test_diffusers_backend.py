import json
import shutil

import pytest
import torch
from diffusers import DDPMPipeline, DDPMScheduler, EulerDiscreteScheduler, UNet2DModel

from gn_models.backends.diffusers_backend import (
    DiffusersBackend,
    ModelWeightsNotFoundError,
    load_pipeline,
)
from gn_models.sampling.ddim import ddim_sample, ddim_scheduler
from gn_models.sampling.re_denoise import re_denoise
from helpers.tiny_pipelines import SIZES, build_tiny_sdxl

LATENT = SIZES["latent"]  # (4, 8, 8) for 64x64 images
SDXL_WIDTH = sum(SIZES["sdxl_hidden"])  # 32 + 64
PROMPTS = ["a red cat", "a dog"]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models gain nothing from intra-op threads; on a busy 2-core machine two threads
    spin-wait and run ~10x slower, so this module runs torch single-threaded."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def sdxl(tiny_sdxl_dir):
    return DiffusersBackend(load_pipeline(tiny_sdxl_dir))


@pytest.fixture(scope="module")
def sd(tiny_sd_dir):
    return DiffusersBackend(load_pipeline(tiny_sd_dir))


def own_ddim_images(backend, x_T, cond, w, steps):
    return backend.decode(ddim_sample(backend, x_T, cond, w, steps))


def test_sdxl_shapes_and_embeddings(sdxl):
    assert sdxl.height == sdxl.width == SIZES["image"]
    assert sdxl.latent_shape == LATENT == (4, sdxl.height // 8, sdxl.width // 8)
    assert sdxl.dtype == torch.float32 and sdxl.device.type == "cpu"
    cond = sdxl.encode_prompts(PROMPTS)
    assert cond.prompt_embeds.shape == (2, 77, SDXL_WIDTH)
    assert cond.pooled.shape == (2, SIZES["sdxl_pooled"])
    assert cond.attention_mask.dtype == torch.int64 and bool((cond.attention_mask == 1).all())
    assert cond.prompt_embeds.dtype == cond.pooled.dtype == torch.float32
    assert not torch.allclose(cond.prompt_embeds[0], cond.prompt_embeds[1])
    # the DDIM schedule is the model's own (SDXL: scaled_linear, leading, steps_offset 1)
    cfg = sdxl.scheduler_config
    assert (cfg["beta_schedule"], cfg["timestep_spacing"], cfg["steps_offset"]) == (
        "scaled_linear",
        "leading",
        1,
    )
    ddim = ddim_scheduler(sdxl, 10)
    assert ddim.timesteps[0] == 901
    assert not ddim.config.clip_sample and not ddim.config.set_alpha_to_one
    # a saved Euler config without DDIM's keys must not get DDIM's pixel-space defaults
    original = sdxl.pipe.scheduler
    sdxl.pipe.scheduler = EulerDiscreteScheduler(beta_schedule="scaled_linear")
    try:
        plain = ddim_scheduler(DiffusersBackend(sdxl.pipe), 10)
    finally:
        sdxl.pipe.scheduler = original
    assert not plain.config.clip_sample and not plain.config.set_alpha_to_one
    # micro-conditioning ids equal the pipeline's own default
    expected = sdxl.pipe._get_add_time_ids(
        (64, 64), (0, 0), (64, 64), torch.float32, text_encoder_projection_dim=16
    )
    torch.testing.assert_close(sdxl.time_ids(2), expected.repeat(2, 1))


def test_sdxl_unconditional_is_zeros_and_pooled_is_used(sdxl):
    uncond = sdxl.unconditional(3)
    assert uncond.prompt_embeds.shape == (3, 77, SDXL_WIDTH)
    assert uncond.pooled.shape == (3, SIZES["sdxl_pooled"])
    assert not uncond.prompt_embeds.any() and not uncond.pooled.any()
    # the pipeline's own negative conditioning (force_zeros_for_empty_prompt) agrees
    _, neg, _, neg_pooled = sdxl.pipe.encode_prompt("x", do_classifier_free_guidance=True)
    assert not neg.any() and not neg_pooled.any()
    # the pooled embedding reaches the UNet through added_cond_kwargs
    cond = sdxl.encode_prompts(PROMPTS[:1])
    x = sdxl.initial_noise([0])
    t = torch.tensor(901)
    eps = sdxl.denoiser(x, t, cond)
    cond.pooled = cond.pooled + 1.0
    assert not torch.allclose(eps, sdxl.denoiser(x, t, cond))


def test_re_denoise_on_sdxl(sdxl):
    cond = sdxl.encode_prompts(PROMPTS)
    x_T = sdxl.initial_noise([0, 1])
    sdxl.unet_calls = 0
    golden = re_denoise(sdxl, x_T, cond, cfg_denoise=5.5, cfg_inversion=1.0, num_steps=10)
    assert golden.shape == x_T.shape and torch.isfinite(golden).all()
    assert (golden - x_T).abs().mean() > 1e-4
    assert sdxl.unet_calls == 2


def test_generate_ddim_equals_own_ddim_at_cfg_1_and_5_5(sdxl):
    cond = sdxl.encode_prompts(PROMPTS)
    x_T = sdxl.initial_noise([3, 4])
    images = {}
    for cfg in (1.0, 5.5):
        sdxl.unet_calls = 0
        images[cfg] = sdxl.generate(x_T, cond, cfg, num_steps=3)
        assert sdxl.unet_calls == 3
        assert images[cfg].shape == (2, 3, 64, 64) and images[cfg].dtype == torch.float32
        assert 0 <= images[cfg].min() and images[cfg].max() <= 1
        own = own_ddim_images(sdxl, x_T, cond, cfg, 3)
        torch.testing.assert_close(images[cfg], own, atol=1e-4, rtol=0)
    assert (images[5.5] - images[1.0]).abs().max() > 1e-3  # guidance changed the image
    assert type(sdxl.pipe.scheduler).__name__ == "EulerDiscreteScheduler"  # restored


def test_euler_trailing_sampler_matches_own_euler_loop(sdxl):
    backend = DiffusersBackend(
        sdxl.pipe,
        sampler="EulerDiscreteScheduler",
        sampler_config={"timestep_spacing": "trailing"},
    )
    cond = backend.encode_prompts(PROMPTS[:1])
    x_T = backend.initial_noise([5])
    images = backend.generate(x_T, cond, 2.0, num_steps=3)
    assert images.shape == (1, 3, 64, 64) and torch.isfinite(images).all()
    # the same sampler by hand: x_T scaled by init_noise_sigma, scaled model input, CFG 2.0
    scheduler = backend.make_sampler()
    scheduler.set_timesteps(3)
    assert scheduler.timesteps[0] == 999  # trailing, not the model's leading 667
    assert scheduler.init_noise_sigma > 10  # x_T is rescaled to the Euler sigma_max
    x = x_T * scheduler.init_noise_sigma
    for t in scheduler.timesteps:
        eps = backend.predict_noise(scheduler.scale_model_input(x, t), t, cond, 2.0)
        x = scheduler.step(eps, t, x).prev_sample
    torch.testing.assert_close(images, backend.decode(x), atol=1e-4, rtol=0)
    with pytest.raises(ValueError, match="Unknown sampler"):
        DiffusersBackend(backend.pipe, sampler="NoSuchScheduler")


def test_sd15_style_pipeline(sd):
    assert not sd.is_sdxl and sd.latent_shape == LATENT
    cond = sd.encode_prompts(PROMPTS)
    assert cond.prompt_embeds.shape == (2, 77, SIZES["sd_hidden"])
    torch.testing.assert_close(cond.pooled, cond.prompt_embeds.mean(dim=1))
    uncond = sd.unconditional(1)  # the encoded "", not zeros
    assert uncond.prompt_embeds.abs().sum() > 0
    torch.testing.assert_close(uncond.prompt_embeds, sd.encode_prompts([""]).prompt_embeds)
    x_T = sd.initial_noise([0, 1])
    images = sd.generate(x_T, cond, 5.5, num_steps=3)
    torch.testing.assert_close(images, own_ddim_images(sd, x_T, cond, 5.5, 3), atol=1e-4, rtol=0)


def test_guidance_embedded_unet_agrees_with_pipeline(tmp_path):
    backend = DiffusersBackend(load_pipeline(build_tiny_sdxl(tmp_path, time_cond_proj_dim=8)))
    assert backend.guidance_embedded
    cond = backend.encode_prompts(PROMPTS[:1])
    x_T = backend.initial_noise([7])
    backend.unet_calls = 0
    images = backend.generate(x_T, cond, 5.5, num_steps=2)
    own = own_ddim_images(backend, x_T, cond, 5.5, 2)
    assert backend.unet_calls == 4  # one pass per step, no CFG batch
    torch.testing.assert_close(images, own, atol=1e-4, rtol=0)
    assert (images - backend.generate(x_T, cond, 1.0, 2)).abs().max() > 1e-4


def test_missing_weights_name_the_download(tmp_path, tiny_sdxl_dir):
    for model in (tmp_path / "no-such-model", "gn-tests/not-a-cached-model"):
        with pytest.raises(ModelWeightsNotFoundError) as info:
            load_pipeline(model)
        message = str(info.value)
        assert "hf download" in message and "huggingface-cli download" in message
        assert "HF_HOME" in message and "save_pretrained" in message
    assert "gn-tests/not-a-cached-model --include" in message
    with pytest.raises(ModelWeightsNotFoundError, match=r"\*fp16\.safetensors"):
        load_pipeline(tiny_sdxl_dir, variant="fp16")  # only fp32 files were saved
    assert issubclass(ModelWeightsNotFoundError, FileNotFoundError)


def test_unsupported_pipelines_raise(tmp_path, tiny_sdxl_dir):
    img2img = tmp_path / "img2img"
    shutil.copytree(tiny_sdxl_dir, img2img)
    index = json.loads((img2img / "model_index.json").read_text())
    index["_class_name"] = "StableDiffusionXLImg2ImgPipeline"
    (img2img / "model_index.json").write_text(json.dumps(index))
    with pytest.raises(ValueError, match=r"StableDiffusionXLImg2ImgPipeline.*supports"):
        load_pipeline(img2img)
    unet = UNet2DModel(
        sample_size=8,
        block_out_channels=(8, 8),
        norm_num_groups=4,
        down_block_types=("DownBlock2D",) * 2,
        up_block_types=("UpBlock2D",) * 2,
    )
    with pytest.raises(ValueError, match=r"DDPMPipeline.*StableDiffusionXLPipeline"):
        DiffusersBackend(DDPMPipeline(unet=unet, scheduler=DDPMScheduler()))


def test_prompts_longer_than_the_clip_context_are_reported(sdxl):
    long = " ".join(["a red cat on a blue mat"] * 20)  # ~140 CLIP tokens
    truncated = sdxl.truncated_prompts(["a cat", long])
    assert list(truncated) == [long] and truncated[long] > 77
    cond = sdxl.encode_prompts([long])  # still encodes: its first 77 tokens
    assert cond.prompt_embeds.shape[1] == 77
