"""PickScore reward on a tiny random CLIPModel and processor saved to local folders.

The real model is CLIP ViT-H-14 (~4 GB); these tests build a CLIPModel of the same class from a
tiny CLIPConfig (32-pixel images, 8-pixel patches, width 32) with seeded random weights, and a
CLIPProcessor from a local byte-level vocabulary, and save both with save_pretrained: nothing
is downloaded. With random weights no prompt matches an image better, so the tests check the
formula, the plumbing and the errors, not preference.
"""

import math
import re

import pytest
import torch
import torch.nn.functional as F
from transformers import CLIPModel, CLIPProcessor

from gn_models.rewards.pickscore import (
    PICKSCORE_REPO,
    PROCESSOR_REPO,
    PickScoreReward,
    PickScoreRewardConfig,
    PickScoreWeightsNotFoundError,
)
from gn_models.rewards.registry import reward_class
from helpers.tiny_rewards import build_tiny_pickscore

PROMPTS = [
    "a red fox in the snow",
    "an astronaut riding a horse",
    "a red fox in the snow",  # repeated prompts are scored like distinct ones
    "a cat " * 40,  # longer than 77 tokens: truncated
    "watercolor of a lighthouse",
]


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """(model folder, processor folder) of a tiny seeded random PickScore-like CLIP."""
    return build_tiny_pickscore(tmp_path_factory.mktemp("tiny_pickscore"))


@pytest.fixture(scope="module")
def reward(folders):
    return PickScoreReward.from_pretrained(*folders, batch_size=16)


def images(n, height=48, width=64, seed=1):
    return torch.rand(n, 3, height, width, generator=torch.Generator().manual_seed(seed))


def reference_scores(folders, x, prompts):
    """PickScore's reference code (the model card's calc_probs), per (image, prompt) pair."""
    model = CLIPModel.from_pretrained(folders[0], local_files_only=True).eval()
    processor = CLIPProcessor.from_pretrained(folders[1], local_files_only=True)
    image_inputs = processor(images=x, return_tensors="pt", do_rescale=False)
    text_inputs = processor(
        text=prompts, padding=True, truncation=True, max_length=77, return_tensors="pt"
    )
    with torch.no_grad():
        image_embs = model.get_image_features(**image_inputs).pooler_output
        image_embs = image_embs / torch.norm(image_embs, dim=-1, keepdim=True)
        text_embs = model.get_text_features(**text_inputs).pooler_output
        text_embs = text_embs / torch.norm(text_embs, dim=-1, keepdim=True)
        scores = model.logit_scale.exp() * (text_embs @ image_embs.T)  # (prompts, images)
    return scores.diagonal()


def test_scores_follow_the_reference_formula(folders, reward):
    x = images(len(PROMPTS))
    scores = reward.score(x, PROMPTS, [None] * len(PROMPTS))
    assert scores.shape == (len(PROMPTS),) and scores.dtype == torch.float32
    assert scores.device.type == "cpu"
    torch.testing.assert_close(scores, reference_scores(folders, x, PROMPTS), atol=1e-4, rtol=0)
    low, high = reward.score_range
    assert reward.score_range == pytest.approx((-math.exp(4), math.exp(4)))
    assert ((scores > low) & (scores < high)).all()
    assert reward.name == "PickScore" and reward.version == "model"  # the folder's name


def test_batching_order_and_prompts(folders, reward):
    x = images(len(PROMPTS), seed=2)
    full = reward.score(x, PROMPTS, [None] * len(PROMPTS))
    small_batches = PickScoreReward.from_pretrained(*folders, batch_size=2)
    torch.testing.assert_close(small_batches.score(x, PROMPTS), full, atol=1e-5, rtol=0)
    permutation = torch.tensor([3, 0, 4, 2, 1])
    permuted = reward.score(x[permutation], [PROMPTS[i] for i in permutation])
    torch.testing.assert_close(permuted, full[permutation], atol=1e-5, rtol=0)
    shifted = reward.score(x, PROMPTS[1:] + PROMPTS[:1])  # other prompts, other scores
    assert not torch.allclose(shifted, full)
    assert reward.score(x[:0], []).shape == (0,)
    with pytest.raises(ValueError, match="5 images but 4 prompts"):
        reward.score(x, PROMPTS[:4])
    with pytest.raises(ValueError, match="255"):
        reward.score((x * 255).to(torch.uint8), PROMPTS)


def test_features_are_unit_norm_image_embeddings(folders, reward):
    x = images(5, seed=3)
    features = reward.features(x)
    assert features.shape == (5, 16) and features.dtype == torch.float32
    assert features.device.type == "cpu"
    torch.testing.assert_close(features.norm(dim=-1), torch.ones(5))
    # The image side of the score: scale * features . text embedding.
    model = CLIPModel.from_pretrained(folders[0], local_files_only=True).eval()
    pixels = reward.processor(images=x, return_tensors="pt", do_rescale=False)
    with torch.no_grad():
        expected = F.normalize(model.get_image_features(**pixels).pooler_output, dim=-1)
    torch.testing.assert_close(features, expected, atol=1e-5, rtol=0)
    assert reward.features(x[:0]).shape == (0, 16)
    assert reward.reference_features() is None


def test_prepare_and_load_round_trip(folders, tmp_path):
    assert reward_class("pickscore") is PickScoreReward
    model, processor = map(str, folders)
    config = PickScoreRewardConfig(model=model, processor=processor, batch_size=4)
    prepared = PickScoreReward.prepare(config, tmp_path, "cpu")
    record = (tmp_path / "reward.json").read_text()
    assert all(part in record for part in ('"name": "PickScore"', model, processor))
    assert prepared.metadata["reward"] == "PickScore model"
    loaded = PickScoreReward.load(config, tmp_path, "cpu")
    x = images(2, seed=4)
    fresh = PickScoreReward.from_pretrained(model, processor)
    torch.testing.assert_close(loaded.score(x, PROMPTS[:2]), fresh.score(x, PROMPTS[:2]))
    other = PickScoreRewardConfig(model=model + "_other", processor=processor)
    with pytest.raises(ValueError, match="Rematerialize"):
        PickScoreReward.load(other, tmp_path, "cpu")
    with pytest.raises(FileNotFoundError, match="materialize"):
        PickScoreReward.load(config, tmp_path / "empty", "cpu")


def test_missing_weights_name_what_to_download(folders, tmp_path):
    with pytest.raises(PickScoreWeightsNotFoundError) as caught:
        PickScoreReward.from_pretrained(tmp_path / "nowhere", folders[1])
    message = str(caught.value)
    assert f"hf download {PICKSCORE_REPO}" in message
    assert f"hf download {PROCESSOR_REPO}" in message
    assert "local folders" in message and isinstance(caught.value, FileNotFoundError)
    # A repo id not in the cache, for the processor this time: its own name is the command.
    with pytest.raises(PickScoreWeightsNotFoundError, match=re.escape("hf download me/proc")):
        PickScoreReward.from_pretrained(folders[0], "me/proc")
