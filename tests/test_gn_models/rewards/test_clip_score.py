"""CLIPScore on a tiny random CLIPModel and processor saved in one local folder, and the
uniform construction of every pretrained reward by kind (what the command line does).

The real model is CLIP ViT-B/32; the tiny one has 32-pixel images and 16-wide embeddings. The
reference is the paper's formula written out: w * max(cos(image embedding, text embedding), 0)
with the text "A photo depicts " + prompt, as in Hessel et al.'s code.
"""

import json
import re

import pytest
import torch
from transformers import CLIPModel, CLIPProcessor

from gn_models.rewards.clip_score import (
    CLIP_SCORE_MODEL,
    CLIPScoreReward,
    CLIPScoreRewardConfig,
    CLIPScoreWeightsNotFoundError,
)
from gn_models.rewards.registry import REWARD_CLASSES, reward_class
from helpers.tiny_pipelines import TINY_HPSV2_ARCH
from helpers.tiny_rewards import (
    CLIP_PROJECTION_DIM,
    build_tiny_aesthetic,
    build_tiny_clip_score,
    build_tiny_image_reward,
)

PROMPTS = [
    "a red fox in the snow",
    "an astronaut riding a horse",
    "a red fox in the snow",  # repeated prompts are scored like distinct ones
    "a cat " * 40,  # longer than 77 tokens: truncated
    "watercolor of a lighthouse",
    "a dog",
]


@pytest.fixture(scope="module")
def options(tmp_path_factory):
    return build_tiny_clip_score(tmp_path_factory.mktemp("tiny_clip_score"))


@pytest.fixture(scope="module")
def reward(options):
    return CLIPScoreReward.from_pretrained(**options, batch_size=16)


def images(n, height=48, width=64, seed=1):
    return torch.rand(n, 3, height, width, generator=torch.Generator().manual_seed(seed))


def reference_cosines(folder, x, texts):
    """cos(image i, text i) of a freshly loaded model, per (image, text) pair."""
    model = CLIPModel.from_pretrained(folder, local_files_only=True).eval()
    processor = CLIPProcessor.from_pretrained(folder, local_files_only=True)
    with torch.no_grad():
        image = model.get_image_features(
            **processor(images=x, return_tensors="pt", do_rescale=False)
        )
        tokens = processor(
            text=texts, padding=True, truncation=True, max_length=77, return_tensors="pt"
        )
        text = model.get_text_features(**tokens)
    image, text = image.pooler_output, text.pooler_output
    return (image * text).sum(-1) / (image.norm(dim=-1) * text.norm(dim=-1))


def test_scores_follow_the_paper_formula(options, reward):
    x = images(len(PROMPTS))
    scores = reward.score(x, PROMPTS, [None] * len(PROMPTS))
    assert scores.shape == (len(PROMPTS),) and scores.dtype == torch.float32
    assert scores.device.type == "cpu"
    cosines = reference_cosines(options["model"], x, ["A photo depicts " + p for p in PROMPTS])
    torch.testing.assert_close(scores, 2.5 * cosines.clamp(min=0), atol=1e-5, rtol=0)
    assert reward.score_range == (0.0, 2.5)
    assert ((scores >= 0) & (scores <= 2.5)).all()
    assert reward.name == "CLIPScore" and reward.version == "clip"  # the folder's name


def test_negative_cosines_score_zero(options, reward, tmp_path):
    """Negating half of the text projection's outputs makes some cosines negative: those
    pairs score 0, the others w * cos; negating all of it negates every cosine."""
    x = images(len(PROMPTS), seed=2)
    texts = ["A photo depicts " + p for p in PROMPTS]
    cosines = {}
    for name, rows in (("half", slice(0, CLIP_PROJECTION_DIM // 2)), ("all", slice(None))):
        model = CLIPModel.from_pretrained(options["model"], local_files_only=True)
        with torch.no_grad():
            model.text_projection.weight[rows].neg_()
        model.save_pretrained(tmp_path / name)
        CLIPProcessor.from_pretrained(options["model"]).save_pretrained(tmp_path / name)
        cosines[name] = reference_cosines(tmp_path / name, x, texts)
        scores = CLIPScoreReward.from_pretrained(tmp_path / name).score(x, PROMPTS)
        torch.testing.assert_close(scores, 2.5 * cosines[name].clamp(min=0), atol=1e-5, rtol=0)
        assert ((scores == 0) == (cosines[name] < 0)).all()
    assert (cosines["half"] < 0).any() and (cosines["half"] > 0).any()  # both in one batch
    torch.testing.assert_close(cosines["all"], -reference_cosines(options["model"], x, texts))


def test_weight_and_prefix_are_settings(options, reward):
    x = images(3, seed=3)
    bare = CLIPScoreReward.from_pretrained(options["model"], weight=1.0, prefix="")
    cosines = reference_cosines(options["model"], x, PROMPTS[:3])
    torch.testing.assert_close(bare.score(x, PROMPTS[:3]), cosines.clamp(min=0), atol=1e-5, rtol=0)
    assert bare.score_range == (0.0, 1.0) and bare.version == "clip, w=1, prefix=''"
    assert not torch.allclose(bare.score(x, PROMPTS[:3]) * 2.5, reward.score(x, PROMPTS[:3]))
    with pytest.raises(ValueError, match="weight"):
        CLIPScoreRewardConfig(weight=0.0)
    with pytest.raises(ValueError, match="batch_size"):
        CLIPScoreRewardConfig(batch_size=0)


def test_batching_order_and_prompts(options, reward):
    x = images(len(PROMPTS), seed=4)
    full = reward.score(x, PROMPTS, [None] * len(PROMPTS))
    one_by_one = CLIPScoreReward.from_pretrained(**options, batch_size=1)
    torch.testing.assert_close(one_by_one.score(x, PROMPTS), full, atol=1e-5, rtol=0)
    permutation = torch.tensor([3, 0, 5, 4, 2, 1])
    permuted = reward.score(x[permutation], [PROMPTS[i] for i in permutation])
    torch.testing.assert_close(permuted, full[permutation], atol=1e-5, rtol=0)
    shifted = reward.score(x, PROMPTS[1:] + PROMPTS[:1])  # other prompts, other scores
    assert not torch.allclose(shifted, full)
    assert reward.score(x[:0], []).shape == (0,)
    with pytest.raises(ValueError, match="6 images but 5 prompts"):
        reward.score(x, PROMPTS[:5])
    with pytest.raises(ValueError, match="255"):
        reward.score((x * 255).to(torch.uint8), PROMPTS)
    features = reward.features(x)
    assert features.shape == (len(PROMPTS), CLIP_PROJECTION_DIM)
    torch.testing.assert_close(features.norm(dim=-1), torch.ones(len(PROMPTS)))


def test_prepare_and_load_round_trip(options, tmp_path):
    assert reward_class("clip_score") is CLIPScoreReward
    config = CLIPScoreRewardConfig(**options, batch_size=4)
    prepared = CLIPScoreReward.prepare(config, tmp_path, "cpu")
    record = json.loads((tmp_path / "reward.json").read_text())
    assert record["name"] == "CLIPScore" and record["model"] == options["model"]
    assert record["weight"] == 2.5 and record["prefix"] == "A photo depicts"
    assert prepared.metadata["reward"] == "CLIPScore clip"
    loaded = CLIPScoreReward.load(config, tmp_path, "cpu")
    x = images(2, seed=5)
    fresh = CLIPScoreReward.from_pretrained(**options)
    torch.testing.assert_close(loaded.score(x, PROMPTS[:2]), fresh.score(x, PROMPTS[:2]))
    for other in ({"weight": 1.0}, {"prefix": ""}, {"model": options["model"] + "_other"}):
        with pytest.raises(ValueError, match="Rematerialize"):
            CLIPScoreReward.load(CLIPScoreRewardConfig(**{**options, **other}), tmp_path, "cpu")
    with pytest.raises(FileNotFoundError, match="materialize"):
        CLIPScoreReward.load(config, tmp_path / "empty", "cpu")


def test_missing_weights_name_what_to_download(tmp_path):
    with pytest.raises(CLIPScoreWeightsNotFoundError) as caught:
        CLIPScoreReward.from_pretrained(tmp_path / "nowhere")
    message = str(caught.value)
    assert f'hf download {CLIP_SCORE_MODEL} --include "*.json" "*.txt" "*.safetensors"' in message
    assert "local folder" in message and isinstance(caught.value, FileNotFoundError)
    with pytest.raises(CLIPScoreWeightsNotFoundError, match=re.escape("hf download me/clip ")):
        CLIPScoreReward.from_pretrained("me/clip")


def test_every_pretrained_reward_builds_by_kind(tmp_path, tiny_hpsv2_checkpoint):
    """What a command line tool does: reward_class(kind).from_config(config_class(**options),
    device), for each reward that loads pretrained weights."""
    clip = build_tiny_clip_score(tmp_path / "clip")["model"]
    options = {
        "hpsv2": {"checkpoint": str(tiny_hpsv2_checkpoint), "arch": TINY_HPSV2_ARCH},
        "pickscore": {"model": clip, "processor": clip},
        "image_reward": build_tiny_image_reward(tmp_path / "image_reward"),
        "aesthetic": build_tiny_aesthetic(tmp_path / "aesthetic"),
        "clip_score": {"model": clip},
    }
    loading = [kind for kind, cls in REWARD_CLASSES.items() if hasattr(cls, "from_config")]
    assert set(options) <= set(loading)  # the digit rewards are trained, not loaded
    x = images(3, height=64, width=64, seed=6)
    for kind, settings in options.items():
        cls = reward_class(kind)
        reward = cls.from_config(cls.config_class(**settings), "cpu")
        assert isinstance(reward, cls)
        scores = reward.score(x, PROMPTS[:3], [None] * 3)
        low, high = reward.score_range
        assert scores.shape == (3,) and ((scores >= low) & (scores <= high)).all(), kind
