"""The full-size benchmarks without weights (issue 15): the configs in benchmarks/configs are
SDXL's (parameter counts and shapes on the meta device, nothing allocated), each benchmark's
``--model sdxl-random`` path runs at a reduced size on the CPU and prints its ratios, and
benchmarks/gpu_check.sh parses, passes its commands to the scripts' own parsers and says
clearly when there is no GPU."""

import importlib.util
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from helpers.paths import REPO

BENCHMARKS = REPO / "benchmarks"
GPU_CHECK = BENCHMARKS / "gpu_check.sh"
# The reduced size every script runs at here: widths and depths x 0.1, 64 px images (8x8
# latents), 2 DDIM steps.
REDUCED = ["--model", "sdxl-random", "--scale", "0.1", "--image-size", "64", "--device", "cpu"]
SDXL_UNET_PARAMETERS = 2_567_463_684  # stabilityai/stable-diffusion-xl-base-1.0 unet
SDXL_VAE_PARAMETERS = 83_653_863
CLIP_L_TEXT_PARAMETERS = 123_060_480  # text_encoder
BIGG_TEXT_PARAMETERS = 694_659_840  # text_encoder_2 (with its 1280 x 1280 projection)
VIT_H_14_PARAMETERS = 986_109_441  # HPSv2's open_clip ViT-H-14


def load(name: str):
    """benchmarks/<name>.py as a module (benchmarks/ is not a package; the scripts import
    their sibling full_size, as when run as scripts)."""
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def full_size():
    return load("full_size")


@pytest.fixture
def one_thread():
    """One torch thread: on a shared 2-core machine two threads spin-wait on each other and a
    tiny forward pass takes seconds. Restores the thread count and the root log level (the
    reward benchmark lowers it)."""
    threads, level = torch.get_num_threads(), logging.getLogger().level
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
    logging.getLogger().setLevel(level)


# -- the configs are SDXL's -----------------------------------------------------------------


def test_configs_hold_sdxl_base(full_size):
    unet = full_size.load_config("sdxl_unet")
    assert unet["block_out_channels"] == [320, 640, 1280]
    assert unet["transformer_layers_per_block"] == [1, 2, 10]
    assert unet["cross_attention_dim"] == 2048
    assert unet["addition_embed_type"] == "text_time"
    assert unet["addition_time_embed_dim"] == 256
    assert unet["projection_class_embeddings_input_dim"] == 2816 == 6 * 256 + 1280
    assert unet["sample_size"] == 128
    vae = full_size.load_config("sdxl_vae")
    assert vae["block_out_channels"] == [128, 256, 512, 512]
    assert vae["scaling_factor"] == 0.13025
    assert vae["sample_size"] == 1024
    assert vae["force_upcast"] is True
    text_1, text_2 = full_size.text_encoder_configs()
    assert (text_1["hidden_size"], text_2["hidden_size"], text_2["projection_dim"]) == (
        768,
        1280,
        1280,
    )
    assert text_1["hidden_size"] + text_2["hidden_size"] == unet["cross_attention_dim"]
    scheduler = full_size.load_config("sdxl_scheduler")
    assert (scheduler["beta_start"], scheduler["beta_end"]) == (0.00085, 0.012)
    assert full_size.unet_config() == unet  # scale 1 is the config exactly


def test_full_size_models_on_meta_have_sdxl_parameter_counts_and_shapes(full_size):
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    unet = full_size.build_unet(device="meta")
    vae = full_size.build_vae(device="meta")
    assert full_size.parameter_count(unet) == SDXL_UNET_PARAMETERS
    assert full_size.parameter_count(vae) == SDXL_VAE_PARAMETERS
    text_1, text_2 = full_size.text_encoder_configs()
    with torch.device("meta"):
        encoder_1 = CLIPTextModel(CLIPTextConfig.from_dict(text_1))
        encoder_2 = CLIPTextModelWithProjection(CLIPTextConfig.from_dict(text_2))
    assert full_size.parameter_count(encoder_1) == CLIP_L_TEXT_PARAMETERS
    assert full_size.parameter_count(encoder_2) == BIGG_TEXT_PARAMETERS
    vit = full_size.create_open_clip(full_size.hpsv2_arch(1.0), "meta")
    assert full_size.parameter_count(vit) == VIT_H_14_PARAMETERS

    with torch.no_grad():
        latent = torch.empty(1, 4, 128, 128, device="meta")
        assert vae.decode(latent).sample.shape == (1, 3, 1024, 1024)
        noise = unet(
            latent,
            torch.tensor(999, device="meta"),
            encoder_hidden_states=torch.empty(1, 77, 2048, device="meta"),
            added_cond_kwargs={
                "text_embeds": torch.empty(1, 1280, device="meta"),
                "time_ids": torch.empty(1, 6, device="meta"),
            },
        ).sample
    assert noise.shape == (1, 4, 128, 128)


@pytest.mark.parametrize("scale", [0.1, 0.25, 0.5])
def test_scaled_unet_is_a_valid_smaller_sdxl(full_size, scale):
    config = full_size.unet_config(scale, image_size=256)
    unet = full_size.build_unet(scale, image_size=256, device="meta")
    assert config["sample_size"] == 32
    assert all(c % 32 == 0 for c in config["block_out_channels"])
    assert full_size.parameter_count(unet) < SDXL_UNET_PARAMETERS * scale
    text_1, text_2 = full_size.text_encoder_configs(scale)
    assert config["cross_attention_dim"] == text_1["hidden_size"] + text_2["hidden_size"]
    time_ids = 6 * config["addition_time_embed_dim"]
    assert config["projection_class_embeddings_input_dim"] == time_ids + text_2["projection_dim"]


def test_clip_tokenizer_is_clips_bpe(full_size):
    tokenizer = full_size.clip_tokenizer()
    assert len(tokenizer) == 49408
    assert tokenizer("a red fox")["input_ids"] == [49406, 320, 736, 3240, 49407]
    padded = tokenizer("a cat", padding="max_length", max_length=77)["input_ids"]
    assert len(padded) == 77


def test_reduced_backend_runs_our_diffusers_code_paths(full_size, one_thread):
    backend = full_size.build_sdxl_backend(0.1, 64)
    embeds = backend.encode_prompts(["a cat", "a dog"])
    assert backend.latent_shape == (4, 8, 8)
    assert embeds.prompt_embeds.shape == (2, 77, 64 + 128)
    assert embeds.pooled.shape == (2, 128)
    images = backend.generate(backend.initial_noise([0, 1]), embeds, 5.5, 2)
    assert images.shape == (2, 3, 64, 64)
    assert torch.isfinite(images).all()


# -- each benchmark at a reduced size ---------------------------------------------------------


def test_collection_throughput_sdxl_random(one_thread, capsys):
    load("collection_throughput").main(
        [*REDUCED, *"--prompts 2 --seeds 1 --batch-size 2 --batch1-samples 1 --num-steps 2".split()]
    )
    out = capsys.readouterr().out
    assert "model: sdxl-random" in out and "latents 4x8x8" in out
    assert re.search(r"ratio batched / batch-1: \d+\.\dx", out)
    assert re.search(r"UNet share of collection-stage wall time \(batched\): \d+\.\d%", out)


def test_model_overhead_sdxl_random(one_thread, capsys):
    load("model_overhead").main(
        [*REDUCED, *"--batch-sizes 1 2 --cfg-scales 5.5 --repeats 1 --num-steps 2".split()]
    )
    out = capsys.readouterr().out
    for name in ["re_denoise (oracle)", "npnet", "film_noise_net", "noise_transformer"]:
        assert re.search(rf"^{re.escape(name)}\s+\d+\.\d\d%\s+\d+\.\d\d%$", out, re.M), name
    assert "ratios: golden-noise time per image / sampling time per image (2 DDIM" in out


def test_reward_throughput_sdxl_random(one_thread, capsys):
    load("reward_throughput").main(
        [*REDUCED, "--images", "2", "--batch-size", "2", "--repeats", "1"]
    )
    out = capsys.readouterr().out
    assert "arch: ViT-H-14-scale0.1" in out
    assert re.search(r"ratio ours / hpsv2 pattern: \d+\.\dx", out)


@pytest.mark.parametrize(
    "script, argv",
    [
        ("collection_throughput", ["--scale", "0.5"]),
        ("model_overhead", ["--dtype", "float16"]),
        ("model_overhead", ["--model", "sdxl-random", "--scale", "2"]),
        ("collection_throughput", ["--model", "sdxl-random", "--image-size", "100"]),
        ("reward_throughput", ["--model", "sdxl-random", "--arch", "ViT-B-32"]),
    ],
)
@pytest.mark.timeout(60)  # a check that let the options through would start a full-size run
def test_bad_model_options_are_refused(script, argv):
    with pytest.raises(SystemExit):
        load(script).main(argv)


# -- gpu_check.sh -----------------------------------------------------------------------------


def test_gpu_check_parses():
    subprocess.run(["bash", "-n", str(GPU_CHECK)], check=True)


def test_gpu_check_commands_fit_the_scripts():
    """Each command of the dry run goes through its script's own parser and checks."""
    env = os.environ | {"GPU_CHECK_DRY_RUN": "1"}
    out = subprocess.run(
        ["bash", str(GPU_CHECK)], env=env, capture_output=True, text=True, check=True
    ).stdout
    commands = re.findall(r"would run \(timeout \d+ s\): \S+ benchmarks/(\w+)\.py (.*)$", out, re.M)
    assert [name for name, _ in commands] == [
        "collection_throughput",
        "model_overhead",
        "reward_throughput",
    ]
    for name, argv in commands:
        assert "--model sdxl-random --device cuda --dtype float16 --scale 1" in argv
        assert "--image-size 1024" in argv
        module = load(name)
        parser = module.build_parser()
        args = parser.parse_args(argv.split())
        if hasattr(args, "base_model"):  # collection and overhead share full_size's checks
            load("full_size").check_model_arguments(parser, args)


def _path_without_nvidia_smi(fake_bin: Path) -> str:
    keep = [
        d
        for d in os.environ["PATH"].split(os.pathsep)
        if d and not (Path(d) / "nvidia-smi").exists()
    ]
    return os.pathsep.join([str(fake_bin), *keep])


def _gpu_check(fake_bin: Path) -> subprocess.CompletedProcess:
    env = os.environ | {"PATH": _path_without_nvidia_smi(fake_bin)}
    env.pop("GPU_CHECK_DRY_RUN", None)
    env.pop("GPU_CHECK_DEVICE", None)
    return subprocess.run(["bash", str(GPU_CHECK)], env=env, capture_output=True, text=True)


def test_gpu_check_says_no_gpu_without_nvidia_smi(tmp_path):
    result = _gpu_check(tmp_path)
    assert result.returncode == 2
    assert "no GPU: nvidia-smi is not on PATH" in result.stderr
    assert "===" not in result.stdout  # no benchmark was started


def test_gpu_check_says_no_gpu_when_nvidia_smi_fails(tmp_path):
    fake = tmp_path / "nvidia-smi"
    fake.write_text("#!/bin/sh\necho 'NVIDIA-SMI has failed' >&2\nexit 9\n")
    fake.chmod(0o755)
    result = _gpu_check(tmp_path)
    assert result.returncode == 2
    assert "no GPU: nvidia-smi failed" in result.stderr


@pytest.mark.skipif(torch.cuda.is_available(), reason="torch sees a GPU here")
def test_gpu_check_says_no_gpu_when_torch_sees_none(tmp_path):
    fake = tmp_path / "nvidia-smi"
    fake.write_text("#!/bin/sh\necho 'NVIDIA H200, 143771 MiB, 570.00'\n")
    fake.chmod(0o755)
    result = _gpu_check(tmp_path)
    assert result.returncode == 2
    assert "no GPU: torch.cuda.is_available() is False" in result.stderr
