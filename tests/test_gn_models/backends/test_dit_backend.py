import json

import numpy as np
import pytest
import torch
from diffusers import (
    DDIMScheduler,
    DDPMPipeline,
    DDPMScheduler,
    DPMSolverMultistepScheduler,
    HunyuanDiTPipeline,
    PixArtSigmaPipeline,
    UNet2DModel,
)

from gn_models.backends.diffusers_backend import (
    RECORD_FILE,
    DiffusersBackend,
    DiffusersBackendConfig,
    ModelWeightsNotFoundError,
    load_pipeline,
)
from gn_models.backends.dit_backend import DIT_FAMILY, DiTBackend, DiTBackendConfig
from gn_models.backends.pipelines import backend_for_pipeline
from gn_models.backends.registry import backend_class
from gn_models.data.collect import CollectionConfig, collect_noise_sequences
from gn_models.rewards.base import RewardModel
from gn_models.sampling.ddim import ddim_inverse_scheduler, ddim_sample, ddim_scheduler
from gn_models.sampling.re_denoise import re_denoise
from gn_models.types import Prompt, PromptEmbeds
from helpers.tiny_dit_pipelines import (
    DIT_SIZES,
    build_tiny_hunyuan_dit,
    build_tiny_pixart_sigma,
)

LATENT = DIT_SIZES["latent"]  # (4, 8, 8) for 64x64 images
PROMPTS = ["a red cat", "a dog"]
FAMILIES = ("hunyuan", "pixart")
PIPELINE_CLASS = {"hunyuan": HunyuanDiTPipeline, "pixart": PixArtSigmaPipeline}
# (prompt_embeds length, width) of each tiny model: the real pipelines' lengths
EMBEDS = {
    "hunyuan": (DIT_SIZES["bert_length"], DIT_SIZES["bert_hidden"]),
    "pixart": (DIT_SIZES["t5_length_pixart"], DIT_SIZES["t5_hidden"]),
}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models gain nothing from intra-op threads (see test_diffusers_backend.py)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory):
    return {
        "hunyuan": build_tiny_hunyuan_dit(tmp_path_factory.mktemp("tiny_hunyuan_dit")),
        "pixart": build_tiny_pixart_sigma(tmp_path_factory.mktemp("tiny_pixart_sigma")),
    }


@pytest.fixture(scope="module")
def backends(model_dirs, tmp_path_factory):
    """Each tiny model through the graph's path: config -> prepare (record) -> load."""
    loaded = {}
    for family, model in model_dirs.items():
        config = DiTBackendConfig(model=str(model))
        record_dir = tmp_path_factory.mktemp(f"record_{family}")
        prepared = DiTBackend.prepare(config, record_dir, device="cpu")
        loaded[family] = (DiTBackend.load(config, record_dir, device="cpu"), prepared, record_dir)
    return loaded


@pytest.fixture(params=FAMILIES)
def family(request):
    return request.param


@pytest.fixture
def dit(backends, family):
    backend = backends[family][0]
    backend.unet_calls = backend.unet_rows = 0
    return backend


def own_ddim_images(backend, x_T, cond, w, steps):
    return backend.decode(ddim_sample(backend, x_T, cond, w, steps))


def test_prepare_records_the_model_and_load_checks_it(backends, model_dirs, family):
    backend, prepared, record_dir = backends[family]
    assert backend_class("dit") is DiTBackend and DiTBackend.config_class is DiTBackendConfig
    assert isinstance(backend.pipe, PIPELINE_CLASS[family])
    record = json.loads((record_dir / RECORD_FILE).read_text())
    assert record["pipeline"] == PIPELINE_CLASS[family].__name__
    assert record["model"] == str(model_dirs[family]) and record["dtype"] == "float32"
    assert record["latent_shape"] == list(LATENT)
    assert record["prompt_embeds_shape"] == list(EMBEDS[family])
    assert record["transformer_parameters"] == sum(
        p.numel() for p in backend.pipe.transformer.parameters()
    )
    expected_scheduler = {"hunyuan": "DDPMScheduler", "pixart": "DPMSolverMultistepScheduler"}
    assert record["scheduler"] == prepared.metadata["scheduler"] == expected_scheduler[family]
    if family == "hunyuan":
        assert record["prompt_embeds_2_shape"] == [256, DIT_SIZES["t5_hidden"]]
    else:
        assert "prompt_embeds_2_shape" not in record
    other = "pixart" if family == "hunyuan" else "hunyuan"
    with pytest.raises(ValueError, match="base_model"):  # the record names another model
        DiTBackend.load(DiTBackendConfig(model=str(model_dirs[other])), record_dir, "cpu")


def test_the_model_s_own_schedule_drives_ddim(dit, family):
    cfg = dit.scheduler_config
    if family == "hunyuan":  # Hunyuan-DiT v1.2: DDPM, v-prediction, leading + offset 1
        assert (cfg["prediction_type"], cfg["beta_end"], cfg["timestep_spacing"]) == (
            "v_prediction",
            0.018,
            "leading",
        )
        assert ddim_scheduler(dit, 10).timesteps[0] == 901
    else:  # PixArt-Sigma: epsilon, linear betas; linspace -> trailing, which DDIM inversion takes
        assert (cfg["prediction_type"], cfg["beta_schedule"], cfg["timestep_spacing"]) == (
            "epsilon",
            "linear",
            "trailing",
        )
        assert dit.pipe.scheduler.config.timestep_spacing == "linspace"  # the model's own
        assert ddim_scheduler(dit, 10).timesteps[0] == 999
    assert not cfg["clip_sample"] and not cfg["set_alpha_to_one"]
    assert "thresholding" not in cfg  # off: not passed on to DDIMInverseScheduler
    inverse = ddim_inverse_scheduler(dit, 10)
    assert inverse.timesteps[-1] == ddim_scheduler(dit, 10).timesteps[0]


def test_encode_prompts_shapes_masks_and_pooled(dit, family):
    cond = dit.encode_prompts(PROMPTS)
    length, width = EMBEDS[family]
    assert cond.prompt_embeds.shape == (2, length, width)
    assert cond.prompt_embeds.dtype == cond.pooled.dtype == torch.float32
    assert cond.attention_mask.shape == (2, length) and cond.attention_mask.dtype == torch.int64
    tokens = dit.pipe.tokenizer(PROMPTS)["input_ids"]
    assert cond.attention_mask.sum(1).tolist() == [len(t) for t in tokens]  # padding is 0
    for row, n in enumerate(cond.attention_mask.sum(1).tolist()):
        torch.testing.assert_close(cond.pooled[row], cond.prompt_embeds[row, :n].mean(0))
    assert not torch.allclose(cond.pooled[0], cond.prompt_embeds[0].mean(0))  # not a plain mean
    assert dit.prompt_tokenizer == (dit.pipe.tokenizer, length)
    # prompt_embeds are what the pipeline's own encode_prompt gives first (the reference NPNet
    # code feeds pipe.encode_prompt(prompt)[0] to its Hunyuan-DiT checkpoint)
    torch.testing.assert_close(cond.prompt_embeds, dit.pipe.encode_prompt(PROMPTS)[0])
    if family == "hunyuan":
        assert sorted(cond.extra) == ["attention_mask_2", "prompt_embeds_2"]
        t5 = cond.extra["prompt_embeds_2"]
        assert t5.shape == (2, 256, DIT_SIZES["t5_hidden"]) and t5.dtype == torch.float32
        mask_2 = cond.extra["attention_mask_2"]
        assert mask_2.shape == (2, 256) and mask_2.dtype == torch.int64
        theirs = dit.pipe.encode_prompt(PROMPTS, text_encoder_index=1, max_sequence_length=256)
        torch.testing.assert_close(t5, theirs[0])
        torch.testing.assert_close(mask_2, theirs[2])
    else:
        assert cond.extra == {}
    uncond = dit.unconditional(3)  # the encoded "", with its extra, repeated
    assert len(uncond) == 3 and sorted(uncond.extra) == sorted(cond.extra)
    torch.testing.assert_close(uncond.prompt_embeds[2], dit.encode_prompts([""]).prompt_embeds[0])
    for name, tensor in uncond.extra.items():
        assert tensor.shape[0] == 3, name


@pytest.mark.parametrize("cfg", [1.0, 4.5])
def test_generate_ddim_equals_own_ddim(dit, family, cfg):
    cond = dit.encode_prompts(PROMPTS)
    x_T = dit.initial_noise([3, 4])
    images = dit.generate(x_T, cond, cfg, num_steps=3)
    assert dit.unet_calls == 3 and dit.unet_rows == 3 * 2 * (2 if cfg > 1 else 1)
    assert images.shape == (2, 3, 64, 64) and images.dtype == torch.float32
    assert 0 <= images.min() and images.max() <= 1 and images.std() > 0.01
    torch.testing.assert_close(images, own_ddim_images(dit, x_T, cond, cfg, 3), atol=1e-4, rtol=0)
    original = {"hunyuan": DDPMScheduler, "pixart": DPMSolverMultistepScheduler}[family]
    assert type(dit.pipe.scheduler) is original  # restored after the swap


def test_guidance_and_the_prompt_change_the_image_and_the_pipeline_agrees(dit, family):
    cond = dit.encode_prompts(PROMPTS)
    x_T = dit.initial_noise([5, 6])
    guided = dit.generate(x_T, cond, 4.5, num_steps=2)
    assert (guided - dit.generate(x_T, cond, 1.0, 2)).abs().max() > 1e-3
    assert (guided - dit.generate(x_T, cond.index([1, 0]), 4.5, 2)).abs().max() > 1e-3
    # the pipeline encoding the prompts itself (and "" for CFG) gives the same images
    original = dit.pipe.scheduler
    dit.pipe.scheduler = DDIMScheduler.from_config(dit.scheduler_config)
    try:
        kwargs = {"clean_caption": False} if family == "pixart" else {}
        theirs = dit.pipe(
            prompt=PROMPTS,
            latents=x_T,
            guidance_scale=4.5,
            num_inference_steps=2,
            height=64,
            width=64,
            output_type="pt",
            use_resolution_binning=False,
            **kwargs,
        ).images
    finally:
        dit.pipe.scheduler = original
    torch.testing.assert_close(guided, theirs, atol=1e-4, rtol=0)


def test_hunyuan_v1_1_layout_reads_size_and_style_as_the_pipeline_passes_them(tmp_path):
    directory = build_tiny_hunyuan_dit(tmp_path, style_and_size=True)
    backend = DiTBackend(load_pipeline(directory, family=DIT_FAMILY))
    assert backend.transformer.config.use_style_cond_and_image_meta_size
    torch.testing.assert_close(
        backend.image_meta_size(2), torch.tensor([[1024.0, 1024, 64, 64, 0, 0]] * 2)
    )
    cond = backend.encode_prompts(PROMPTS)
    x_T = backend.initial_noise([7, 8])
    images = backend.generate(x_T, cond, 4.5, num_steps=2)
    own = own_ddim_images(backend, x_T, cond, 4.5, 2)
    torch.testing.assert_close(images, own, atol=1e-4, rtol=0)


def test_denoiser_reads_every_conditioning_input(dit, family):
    cond = dit.encode_prompts(PROMPTS[:1])
    x = dit.initial_noise([0])
    t = torch.tensor(500)
    eps = dit.denoiser(x, t, cond)
    assert eps.shape == (1, *LATENT)  # the noise half of the 8 learned-sigma channels
    assert dit.pipe.transformer.out_channels == 2 * LATENT[0]
    changed = PromptEmbeds(cond.prompt_embeds, cond.attention_mask.clone(), cond.pooled, cond.extra)
    changed.attention_mask[0, 1] = 0  # masking a real token changes the prediction
    assert (dit.denoiser(x, t, changed) - eps).abs().max() > 1e-5
    assert (dit.denoiser(x, torch.tensor(900), cond) - eps).abs().max() > 1e-5
    if family == "hunyuan":
        extra = dict(cond.extra, prompt_embeds_2=cond.extra["prompt_embeds_2"] + 1.0)
        mT5 = PromptEmbeds(cond.prompt_embeds, cond.attention_mask, cond.pooled, extra)
        assert (dit.denoiser(x, t, mT5) - eps).abs().max() > 1e-5
        with pytest.raises(ValueError, match="prompt_embeds_2"):
            dit.denoiser(x, t, PromptEmbeds(cond.prompt_embeds, cond.attention_mask, cond.pooled))


def test_non_square_sizes_and_sizes_off_the_patch_grid(dit, family):
    small = DiTBackend(dit.pipe, height=32, width=48)
    assert small.latent_shape == (4, 4, 6)
    cond = small.encode_prompts(PROMPTS[:1])
    x_T = small.initial_noise([1])
    images = small.generate(x_T, cond, 4.5, num_steps=2)
    assert images.shape == (1, 3, 32, 48)
    torch.testing.assert_close(images, own_ddim_images(small, x_T, cond, 4.5, 2), atol=1e-4, rtol=0)
    with pytest.raises(ValueError, match=r"multiples of 16 \(the VAE scale factor 8 x the patch"):
        DiTBackend(dit.pipe, height=40, width=64)


def test_re_denoise_and_the_ddim_inversion_step(dit):
    cond = dit.encode_prompts(PROMPTS)
    x_T = dit.initial_noise([0, 1])
    golden = re_denoise(dit, x_T, cond, cfg_denoise=5.5, cfg_inversion=1.0, num_steps=10)
    assert dit.unet_calls == 2 and dit.unet_rows == 2 * 2 + 2
    assert golden.shape == x_T.shape and torch.isfinite(golden).all()
    change = ((golden - x_T).norm() / x_T.norm()).item()
    assert 1e-4 < change < 1.0
    # the inversion step undoes the denoise step given the same predicted x_0 and noise: the
    # two schedulers agree on the levels (t and t - 100) and on the prediction type
    scheduler, inverse = ddim_scheduler(dit, 10), ddim_inverse_scheduler(dit, 10)
    t = scheduler.timesteps[0]
    out = dit.predict_noise(x_T, t, cond, 5.5)
    x_prev = scheduler.step(out, t, x_T).prev_sample
    assert (x_prev - x_T).abs().max() > 1e-2
    if dit.scheduler_config["prediction_type"] == "v_prediction":  # v depends on the level
        a_t, a_prev = scheduler.alphas_cumprod[t], scheduler.alphas_cumprod[t - 100]
        x_0 = a_t.sqrt() * x_T - (1 - a_t).sqrt() * out
        eps = a_t.sqrt() * out + (1 - a_t).sqrt() * x_T
        out = a_prev.sqrt() * eps - (1 - a_prev).sqrt() * x_0
    torch.testing.assert_close(inverse.step(out, t, x_prev).prev_sample, x_T, atol=1e-3, rtol=0)


class Brightness(RewardModel):
    name, version, score_range = "brightness", "test", (0.0, 1.0)

    def score(self, images, prompts, labels):
        return images.float().mean(dim=(1, 2, 3))


def test_collect_noise_sequences_on_a_dit(dit):
    prompts = [Prompt(p) for p in PROMPTS]
    config = CollectionConfig(seeds_per_prompt=2, num_redenoise=2, num_steps=2, batch_size=3)
    data = collect_noise_sequences(dit, Brightness(), prompts, config)
    assert data.noise.shape == (4, 3, *LATENT) and np.isfinite(data.noise).all()
    assert data.reward.shape == (4, 3) and np.isfinite(data.reward).all()
    assert data.image_standard.shape == data.image_golden.shape == (4, 3, 64, 64)
    assert data.image_golden.dtype == np.uint8
    assert list(data.prompt) == [PROMPTS[0]] * 2 + [PROMPTS[1]] * 2
    # the first chain step is re-denoise of the seed's x_T with the prompt's conditioning
    x_T = dit.initial_noise([int(data.seed[2])])
    first = re_denoise(dit, x_T, dit.encode_prompts(PROMPTS[1:]), 5.5, 1.0, 2)
    norm = x_T.flatten().norm() / first.flatten().norm()  # renormalized chain
    np.testing.assert_allclose(data.noise[2, 1], (first * norm)[0].numpy(), atol=1e-4)


def test_backend_for_pipeline_picks_the_family(backends, tiny_sd_dir, tiny_sdxl_dir):
    for directory in (tiny_sd_dir, tiny_sdxl_dir):
        backend = backend_for_pipeline(load_pipeline(directory))
        assert type(backend) is DiffusersBackend
    assert backend.is_sdxl
    for family in FAMILIES:
        pipe = backends[family][0].pipe
        backend = backend_for_pipeline(pipe, height=32, width=32, sampler="ddim")
        assert type(backend) is DiTBackend and backend.pipe is pipe
        assert backend.is_hunyuan == (family == "hunyuan") and backend.latent_shape == (4, 4, 4)
    unet = UNet2DModel(
        sample_size=8,
        block_out_channels=(8, 8),
        norm_num_groups=4,
        down_block_types=("DownBlock2D",) * 2,
        up_block_types=("UpBlock2D",) * 2,
    )
    with pytest.raises(ValueError) as info:
        backend_for_pipeline(DDPMPipeline(unet=unet, scheduler=DDPMScheduler()))
    message = str(info.value)
    assert message.startswith("Golden noise does not support a DDPMPipeline")
    for name in ("StableDiffusionXLPipeline", "StableDiffusionPipeline", "HunyuanDiTPipeline"):
        assert name in message
    assert "PixArtSigmaPipeline" in message


def test_unsupported_model_folders_and_pipelines_are_refused(tmp_path, tiny_sdxl_dir, model_dirs):
    with pytest.raises(ValueError, match=r"is a StableDiffusionXLPipeline; DiTBackend supports "):
        DiTBackend.from_config(DiTBackendConfig(model=str(tiny_sdxl_dir)), device="cpu")
    with pytest.raises(ValueError, match=r"HunyuanDiTPipeline, PixArtSigmaPipeline"):
        load_pipeline(tiny_sdxl_dir, family=DIT_FAMILY)
    with pytest.raises(ValueError, match=r"is a HunyuanDiTPipeline; DiffusersBackend supports"):
        DiffusersBackend.from_config(DiffusersBackendConfig(model=str(model_dirs["hunyuan"])))
    with pytest.raises(ValueError, match=r"is a PixArtSigmaPipeline; DiffusersBackend supports"):
        load_pipeline(model_dirs["pixart"])
    with pytest.raises(ModelWeightsNotFoundError, match="hf download"):
        DiTBackend.from_config(DiTBackendConfig(model=str(tmp_path / "none")), device="cpu")
    with pytest.raises(ValueError, match=r"StableDiffusionXLPipeline; DiTBackend supports"):
        DiTBackend(load_pipeline(tiny_sdxl_dir))


def test_prompt_embeds_carry_the_extra_conditioning():
    embeds, mask, pooled = (
        torch.randn(3, 4, 2),
        torch.ones(3, 4, dtype=torch.int64),
        torch.ones(3, 2),
    )
    plain = PromptEmbeds(embeds, mask, pooled)  # the three-argument constructor still works
    assert plain.extra == {} and PromptEmbeds(embeds, mask, pooled).extra is not plain.extra
    extra = {"prompt_embeds_2": torch.randn(3, 5, 6).half(), "attention_mask_2": mask[:, :2]}
    full = PromptEmbeds(embeds.half(), mask, pooled, extra)
    as_float = full.float()
    assert as_float.extra["prompt_embeds_2"].dtype == torch.float32
    assert as_float.extra["attention_mask_2"].dtype == torch.int64  # masks keep their dtype
    assert as_float.prompt_embeds.dtype == torch.float32 and len(full.astuple()) == 3
    picked = full.index([2, 0, 2, 1])
    torch.testing.assert_close(picked.extra["prompt_embeds_2"][0], extra["prompt_embeds_2"][2])
    both = PromptEmbeds.cat([full, picked])
    assert len(both) == 7 and both.extra["prompt_embeds_2"].shape == (7, 5, 6)
    torch.testing.assert_close(both.extra["attention_mask_2"][3:], picked.extra["attention_mask_2"])
    assert full.to("cpu").extra.keys() == extra.keys()
    assert PromptEmbeds.cat([plain, plain]).extra == {}
    with pytest.raises(ValueError, match="different extras"):
        PromptEmbeds.cat([plain, full])


def test_long_prompts_are_reported_against_the_first_encoder_s_context(dit, family):
    long = " ".join(["a red cat on a blue mat"] * 60)  # > 300 tokens for BERT and T5
    truncated = dit.truncated_prompts(["a cat", long])
    assert list(truncated) == [long] and truncated[long] > EMBEDS[family][0]
    assert dit.encode_prompts([long]).prompt_embeds.shape[1] == EMBEDS[family][0]


def test_collect_train_and_evaluate_golden_noise_on_a_dit(dit, family):
    """The graph's path at the gn_models level: re-denoise sequences -> NPNet trained on them
    (prompt_embeds from the DiT's own encoder) -> golden noise -> images by the pipeline."""
    from gn_models.evaluation.sample_images import (
        EvalSetting,
        evaluation_inputs,
        method_noise,
        sample_noise,
    )
    from gn_models.golden_noise.npnet import NPNet, NPNetConfig
    from gn_models.golden_noise.training import TrainingConfig, train_golden_model

    prompts = [Prompt(p) for p in PROMPTS]
    config = CollectionConfig(seeds_per_prompt=4, num_redenoise=1, num_steps=2, batch_size=8)
    data = collect_noise_sequences(dit, Brightness(), prompts, config)
    training = TrainingConfig(steps=4, batch_size=4, eval_every=2, val_fraction=0.25)
    npnet = NPNetConfig(svd_dim=16, svd_heads=4, conv_hidden=8)
    model, log = train_golden_model(NPNet, npnet, training, dit, data.noise, data.prompt)
    assert (model.config.prompt_tokens, model.config.embed_dim) == EMBEDS[family]
    assert log.num_train + log.num_val == 8 and log.train_steps
    inputs = evaluation_inputs(dit, prompts, seeds=[0, 1])
    golden, _ = method_noise(dit, lambda x, c: model.golden_noise(x, c, 2.0), inputs)
    assert golden.shape == inputs.x_T.shape and not torch.equal(golden, inputs.x_T)
    images = sample_noise(dit, golden, 0.0, inputs, EvalSetting(cfg_scale=2.0, num_steps=2))
    assert images.images.shape == (4, 3, 64, 64) and images.images.dtype == np.uint8
