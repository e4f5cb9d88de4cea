"""Every example of the user pages runs, as a user would paste it, on tiny random models.

Per page, in a fresh working folder: what the page assumes the user has (a released NPNet
file, image folders) is made first; then its blocks run in order: ```python blocks in one
namespace, ```bash blocks command by command (``golden-noise ...`` through the CLI in this
process, ``export`` into the environment), and a block with ``title="PATH"`` is written to
that file. Real model names become tiny local stand-ins of the same classes (``STAND_INS``
below, the only edits), and step counts shrink. A block preceded by
``<!-- docs-test: skip (reason) -->`` is not run; the reason must be given.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from gn_models.cli import main
from gn_models.golden_noise.npnet import NPNet
from gn_models.golden_noise.released_npnet import released_config
from gn_models.utils.versions import staged_folder
from helpers.golden import save_tiny_sdxl_npnet
from helpers.npnet import official_layout
from helpers.paths import REPO
from helpers.tiny_pipelines import TINY_HPSV2_ARCH, build_tiny_hpsv2, build_tiny_sd, build_tiny_sdxl
from helpers.tiny_rewards import (
    build_tiny_aesthetic,
    build_tiny_clip_score,
    build_tiny_image_reward,
    build_tiny_pickscore,
)

DOCS = REPO / "docs"
BLOCK = re.compile(
    r"(?P<skip><!-- docs-test: skip \((?P<reason>[^)]*)\) -->\n)?"
    r"```(?P<lang>\w+)(?: title=\"(?P<title>[^\"]+)\")?\n(?P<code>.*?)^```",
    re.S | re.M,
)
SDXL_ID = "stabilityai/stable-diffusion-xl-base-1.0"
SD15_ID = "stable-diffusion-v1-5/stable-diffusion-v1-5"
METRIC = re.compile(r"-m (\w+)(?=\s|$)", re.M)  # a metric given without settings
FEWER_STEPS = {"num_inference_steps=30": "num_inference_steps=2", "--steps 30": "--steps 2"}


def blocks(page: str) -> list[dict]:
    text = (DOCS / page).read_text()
    found = [m.groupdict() for m in BLOCK.finditer(text)]
    assert found, f"no examples in {page}"
    for block in found:
        assert block["reason"] != "", f"{page}: a skipped block needs a reason"
    return found


def run_page(page: str, stand_ins: dict[str, str], monkeypatch, metrics=None) -> dict:
    """Run every block of ``page`` with ``stand_ins`` replaced and ``-m KIND`` given the
    settings ``metrics[KIND]``; returns the Python namespace."""
    namespace: dict = {}
    for block in blocks(page):
        code = block["code"]
        for real, tiny in (stand_ins | FEWER_STEPS).items():
            code = code.replace(real, tiny)
        code = METRIC.sub(lambda m: f"-m {m[1]}:{(metrics or {})[m[1]]}", code)
        if block["skip"]:
            continue
        if block["title"]:
            Path(block["title"]).parent.mkdir(parents=True, exist_ok=True)
            Path(block["title"]).write_text(code)
        elif block["lang"] == "python":
            exec(compile(code, f"{page} example", "exec"), namespace)
        elif block["lang"] == "bash":
            for command in commands(code):
                run_command(command, monkeypatch)
    return namespace


def commands(code: str) -> list[list[str]]:
    """The commands of a bash block: continuation lines joined, comments dropped."""
    joined = code.replace("\\\n", " ")
    return [shlex.split(line, comments=True) for line in joined.splitlines() if line.strip()]


def run_command(words: list[str], monkeypatch) -> None:
    if not words:
        return
    if words[0] == "export":
        for assignment in words[1:]:
            name, _, value = assignment.partition("=")
            monkeypatch.setenv(name, value.replace("$PWD", str(Path.cwd())))
        return
    assert words[0] == "golden-noise", f"not a command the docs test runs: {words}"
    result = CliRunner().invoke(main, words[1:], catch_exceptions=False)
    assert result.exit_code == 0, f"{shlex.join(words)}\n{result.output}"


def metric_options(root: Path) -> dict[str, str]:
    """Settings (``key=value,...``) of tiny random models of each metric, by kind."""
    pick_model, pick_processor = build_tiny_pickscore(root / "pickscore")
    (root / "hpsv2").mkdir()
    settings = {
        "pickscore": {"model": pick_model, "processor": pick_processor},
        "hpsv2": {"checkpoint": build_tiny_hpsv2(root / "hpsv2"), "arch": TINY_HPSV2_ARCH},
        "aesthetic": build_tiny_aesthetic(root / "aesthetic"),
        "image_reward": build_tiny_image_reward(root / "image_reward"),
        "clip_score": build_tiny_clip_score(root / "clip_score"),
    }
    return {
        kind: ",".join(f"{key}={value}" for key, value in options.items())
        for kind, options in settings.items()
    }


def write_images(folder: Path, names: list[str], prompts: list[str], seed: int) -> None:
    """Random 64 px PNGs, and their metadata.csv when ``prompts`` are given."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for name in names:
        pixels = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / name)
    if prompts:
        frame = pd.DataFrame({"file_name": names, "prompt": prompts, "seed": 0})
        frame.to_csv(folder / "metadata.csv", index=False)


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return tmp_path


def test_golden_noise_in_my_diffusers_script(workspace, monkeypatch):
    """SDXL at its real widths (encoders 768 + 1280, 1024 px) so that a released SDXL NPNet
    file (random weights, the release's layout) fits."""
    torch.manual_seed(0)
    released = NPNet(released_config("sdxl"))
    torch.save(official_layout(released), "npnet_sdxl.pth")
    stand_ins = {
        SDXL_ID: str(build_tiny_sdxl(workspace / "sdxl", real_widths=True)),
        SD15_ID: str(build_tiny_sd(workspace / "sd15")),
    }
    page = run_page("golden-noise-in-diffusers.md", stand_ins, monkeypatch)
    assert page["latents"].shape == (1, 4, 128, 128) and page["image"].size == (1024, 1024)
    assert Image.open("side_by_side.png").size == (2048, 2048)
    assert len(pd.read_csv("sdxl-golden/golden/metadata.csv")) == 2


def test_score_my_images(workspace, monkeypatch):
    write_images(Path("my-images"), ["fox.png", "cube.png"], [], seed=0)  # the user's images
    names, prompts = ["0000_s0.png", "0001_s0.png"], ["a cat", "a dog"]
    write_images(Path("sdxl-golden/standard"), names, prompts, seed=1)  # from generate
    write_images(Path("sdxl-golden/golden"), names, prompts, seed=2)
    metrics = metric_options(workspace)
    clip = {"openai/clip-vit-base-patch32": metrics["clip_score"].removeprefix("model=")}
    page = run_page("score-images.md", clip, monkeypatch, metrics)
    scores = pd.read_parquet("my-images/scores.parquet")
    assert sorted(scores["file_name"]) == ["cube.png", "fox.png"]
    for name in ("PickScore", "HPSv2", "AES", "ImageReward", "CLIPScore"):
        assert scores[name].notna().all(), name
    assert len(pd.read_csv("comparison.csv")) == 5
    assert page["reward"].name == "CLIPScore"


def test_train_on_my_prompts(workspace, monkeypatch):
    """The graph's checkpoint folder (versioned, as the npnet asset publishes it) of an NPNet
    for the tiny SDXL; the graph itself runs in tests/test_gn_dagster."""
    with staged_folder(Path("artifacts/checkpoints/npnet")) as stage:
        save_tiny_sdxl_npnet(stage.path)
    stand_ins = {SDXL_ID: str(build_tiny_sdxl(workspace / "sdxl"))}
    page = run_page("train-on-my-prompts.md", stand_ins, monkeypatch, metric_options(workspace))
    assert len(pd.read_csv("mine/golden/metadata.csv")) == 4  # 2 prompts x 2 seeds
    assert page["latents"].shape == (1, 4, 8, 8)
    skipped = [b for b in blocks("train-on-my-prompts.md") if b["skip"]]
    assert len(skipped) == 1 and "test_sdxl_graph" in skipped[0]["reason"]
