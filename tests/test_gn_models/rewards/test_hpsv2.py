"""HPSv2 reward on a tiny open_clip model saved in HPS's checkpoint layout.

The real checkpoints are ViT-H-14 (~2 GB); these tests register a tiny ViT of the same
family (same tokenizer, context length and vocabulary, 224-pixel input) and save seeded
random weights as {'state_dict': ...}, the layout of HPS_v2*_compressed.pt.
"""

import re

import numpy as np
import open_clip
import pytest
import torch
import torch.nn.functional as F
from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD
from PIL import Image
from torchvision.transforms.functional import to_tensor

from gn_models.rewards.hpsv2 import (
    HPSV2_REPO,
    HPSv2CheckpointError,
    HPSv2CheckpointNotFoundError,
    HPSv2Reward,
    find_hpsv2_checkpoint,
    preprocess,
)
from helpers.tiny_pipelines import TINY_HPSV2_ARCH

TINY_ARCH = TINY_HPSV2_ARCH
PROMPTS = [
    "a red fox in the snow",
    "an astronaut riding a horse",
    "a bowl of ramen, studio lighting",
    "a red fox in the snow",  # repeated prompts are scored like distinct ones
    "watercolor of a lighthouse",
    "a cat",
    "an astronaut riding a horse",
]


@pytest.fixture(scope="module")
def checkpoint(tiny_hpsv2_checkpoint):
    """A seeded random tiny model saved as HPS does: torch.save({'state_dict': ...})."""
    return tiny_hpsv2_checkpoint


@pytest.fixture(scope="module")
def reward(checkpoint):
    return HPSv2Reward.from_checkpoint(checkpoint, arch=TINY_ARCH, batch_size=16)


def images(n, height=64, width=64, channels=3, seed=1):
    return torch.rand(n, channels, height, width, generator=torch.Generator().manual_seed(seed))


def test_scores_are_cosines_of_normalised_features(checkpoint, reward):
    x = images(len(PROMPTS))
    scores = reward.score(x, PROMPTS, [None] * len(PROMPTS))
    assert scores.shape == (len(PROMPTS),) and scores.dtype == torch.float32
    assert scores.device.type == "cpu"
    # Independently: a fresh model from the same file, encode, normalise, dot.
    model = open_clip.create_model(TINY_ARCH, pretrained=str(checkpoint)).eval()
    tokenizer = open_clip.get_tokenizer(TINY_ARCH)
    with torch.no_grad():
        image_features = F.normalize(model.encode_image(preprocess(x)), dim=-1)
        text_features = F.normalize(model.encode_text(tokenizer(PROMPTS)), dim=-1)
    expected = (image_features * text_features).sum(-1)
    torch.testing.assert_close(scores, expected, atol=1e-5, rtol=0)
    assert reward.name == "HPSv2" and reward.version == "v2.1"


def test_batching_and_order(checkpoint, reward):
    x = images(len(PROMPTS), seed=2)
    small_batches = HPSv2Reward.from_checkpoint(checkpoint, arch=TINY_ARCH, batch_size=3)
    full = reward.score(x, PROMPTS, [None] * len(PROMPTS))
    torch.testing.assert_close(small_batches.score(x, PROMPTS, [None] * 7), full, atol=1e-5, rtol=0)
    permutation = torch.tensor([4, 0, 6, 2, 1, 5, 3])
    permuted = reward.score(x[permutation], [PROMPTS[i] for i in permutation], [None] * 7)
    torch.testing.assert_close(permuted, full[permutation], atol=1e-5, rtol=0)
    # Scores depend on the prompt: pairing images with other prompts changes them.
    shifted = reward.score(x, PROMPTS[1:] + PROMPTS[:1], [None] * 7)
    assert not torch.allclose(shifted, full)
    assert reward.score(x[:0], [], []).shape == (0,)


def test_rgba_grayscale_and_non_square(reward):
    rgb = images(2, 48, 80, seed=3)
    alpha = torch.rand(2, 1, 48, 80)
    rgba = torch.cat([rgb, alpha], dim=1)
    prompts = PROMPTS[:2]
    torch.testing.assert_close(
        reward.score(rgba, prompts, [None, None]), reward.score(rgb, prompts, [None, None])
    )
    gray = rgb[:, :1]
    torch.testing.assert_close(preprocess(gray), preprocess(gray.expand(-1, 3, -1, -1)))
    tall = images(2, 300, 120, seed=4)
    scores = reward.score(tall, prompts, [None, None])
    assert scores.shape == (2,) and torch.isfinite(scores).all()
    # Padding is black before normalising: the left/right bands hold -mean/std.
    pixels = preprocess(tall)
    assert pixels.shape == (2, 3, 224, 224)
    black = -torch.tensor(OPENAI_DATASET_MEAN) / torch.tensor(OPENAI_DATASET_STD)
    torch.testing.assert_close(pixels[:, :, :, :40], black.view(1, 3, 1, 1).expand(2, 3, 224, 40))


@pytest.mark.parametrize("height,width", [(300, 200), (100, 60), (1024, 1024), (77, 224)])
def test_preprocess_matches_open_clip_pil_transform(height, width):
    """HPSv2's preprocess_val is ResizeMaxSize (open_clip 3.x: resize_mode='longest') on PIL."""
    transform = open_clip.image_transform(224, is_train=False, resize_mode="longest")
    rng = np.random.default_rng(height * width)
    yy, xx = np.mgrid[0:height, 0:width] / max(height, width)
    smooth = np.stack([np.sin(6 * xx + c) * np.cos(4 * yy - c) for c in range(3)], -1)
    pixels = np.clip(0.5 + 0.4 * smooth + rng.normal(0, 0.05, smooth.shape), 0, 1)
    image = Image.fromarray((pixels * 255).round().astype(np.uint8))
    expected = transform(image)
    ours = preprocess(to_tensor(image)[None])[0]
    assert ours.shape == expected.shape == (3, 224, 224) and ours.dtype == torch.float32
    # PIL resamples in 8 bits; ours in float32. One 8-bit level is 0.015 after normalising.
    difference = (ours - expected).abs()
    assert difference.max() < 0.06 and difference.mean() < 0.006


def test_preprocess_rejects_bad_input():
    with pytest.raises(ValueError, match="255"):
        preprocess(torch.zeros(1, 3, 8, 8, dtype=torch.uint8))
    with pytest.raises(ValueError, match="channels"):
        preprocess(torch.zeros(1, 5, 8, 8))
    with pytest.raises(ValueError, match="shape"):
        preprocess(torch.zeros(3, 8, 8))


def test_missing_checkpoint_names_repo_and_file(tmp_path):
    with pytest.raises(HPSv2CheckpointNotFoundError) as caught:
        find_hpsv2_checkpoint("v2.1", cache_dir=tmp_path)
    assert HPSV2_REPO in str(caught.value) and "HPS_v2.1_compressed.pt" in str(caught.value)
    with pytest.raises(HPSv2CheckpointNotFoundError, match=re.escape("HPS_v2_compressed.pt")):
        find_hpsv2_checkpoint("v2.0", path=tmp_path / "nowhere.pt")
    with pytest.raises(HPSv2CheckpointNotFoundError, match=HPSV2_REPO):
        HPSv2Reward.from_checkpoint(tmp_path / "nowhere.pt", arch=TINY_ARCH)
    assert isinstance(caught.value, FileNotFoundError)
    with pytest.raises(ValueError, match=re.escape("v2.0")):
        find_hpsv2_checkpoint("v3")


def test_finds_checkpoint_in_hugging_face_cache_layout(tmp_path):
    revision = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "models--xswu--HPSv2"
    snapshot = repo / "snapshots" / revision
    snapshot.mkdir(parents=True)
    (snapshot / "HPS_v2.1_compressed.pt").write_bytes(b"weights")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision)
    found = find_hpsv2_checkpoint("v2.1", cache_dir=tmp_path)
    assert found == snapshot / "HPS_v2.1_compressed.pt"
    with pytest.raises(HPSv2CheckpointNotFoundError, match=re.escape("HPS_v2_compressed.pt")):
        find_hpsv2_checkpoint("v2.0", cache_dir=tmp_path)
    # An explicit path wins over the cache.
    local = tmp_path / "mine.pt"
    local.write_bytes(b"weights")
    assert find_hpsv2_checkpoint("v2.1", path=local, cache_dir=tmp_path) == local


def test_corrupt_or_mismatched_checkpoint_is_a_clear_error(checkpoint, tmp_path):
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a checkpoint")
    with pytest.raises(
        HPSv2CheckpointError, match=re.escape(f"corrupt.pt as an open_clip {TINY_ARCH}")
    ):
        HPSv2Reward.from_checkpoint(corrupt, arch=TINY_ARCH)
    state = torch.load(checkpoint, weights_only=True)["state_dict"]
    state.pop("text_projection")
    partial = tmp_path / "partial.pt"
    torch.save({"state_dict": state}, partial)
    with pytest.raises(HPSv2CheckpointError, match=re.escape("partial.pt")):
        HPSv2Reward.from_checkpoint(partial, arch=TINY_ARCH)
    with pytest.raises(ValueError, match="ViT-H-14"):
        HPSv2Reward.from_checkpoint(checkpoint, arch="no-such-arch")
