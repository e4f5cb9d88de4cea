"""The LAION aesthetic predictor (AES) on a tiny random CLIP and a predictor MLP saved in the
released layout (``sac+logos+ava1-l14-linearMSE.pth``: a state dict layers.{0,2,4,6,7}.*).

The real CLIP is ViT-L/14 with 768-wide embeddings; the tiny one has 16-wide embeddings and
the MLP takes 16. The reference is simple_inference.py's computation written out: CLIP image
embedding, L2 normalisation, the five linear layers from the file's own tensors.
"""

import json
import re

import pytest
import torch
from transformers import CLIPModel, CLIPProcessor

from gn_models.rewards.aesthetic import (
    AESTHETIC_FILE,
    AESTHETIC_REPO,
    AestheticPredictorError,
    AestheticReward,
    AestheticRewardConfig,
    AestheticWeightsNotFoundError,
    find_predictor,
)
from gn_models.rewards.registry import reward_class
from helpers.tiny_rewards import CLIP_PROJECTION_DIM, build_tiny_aesthetic


@pytest.fixture(scope="module")
def options(tmp_path_factory):
    return build_tiny_aesthetic(tmp_path_factory.mktemp("tiny_aesthetic"))


@pytest.fixture(scope="module")
def reward(options):
    return AestheticReward.from_pretrained(**options, batch_size=16)


def images(n, height=48, width=64, seed=1):
    return torch.rand(n, 3, height, width, generator=torch.Generator().manual_seed(seed))


def reference_scores(options, x):
    model = CLIPModel.from_pretrained(options["clip"], local_files_only=True).eval()
    processor = CLIPProcessor.from_pretrained(options["clip"], local_files_only=True)
    state = torch.load(options["predictor"], weights_only=True)
    with torch.no_grad():
        pixels = processor(images=x, return_tensors="pt", do_rescale=False)
        embedding = model.get_image_features(**pixels).pooler_output
        h = embedding / embedding.norm(dim=-1, keepdim=True)
        for index in (0, 2, 4, 6, 7):
            h = h @ state[f"layers.{index}.weight"].T + state[f"layers.{index}.bias"]
    return h[:, 0]


def test_scores_follow_the_reference_formula(options, reward):
    x = images(6)
    scores = reward.score(x, ["a fox"] * 6, [None] * 6)
    assert scores.shape == (6,) and scores.dtype == torch.float32
    assert scores.device.type == "cpu"
    torch.testing.assert_close(scores, reference_scores(options, x), atol=1e-5, rtol=0)
    assert scores.std() > 1e-4  # the images make a difference
    assert reward.name == "AES"
    assert reward.version == "sac+logos+ava1-l14-linearMSE (clip)"  # the file, the CLIP folder


def test_prompts_are_ignored_and_batching_does_not_matter(options, reward):
    x = images(5, seed=2)
    full = reward.score(x, ["a fox", "a cat", "", "x" * 500, "a fox"])
    torch.testing.assert_close(reward.score(x, ["something else"] * 5), full)
    one_by_one = AestheticReward.from_pretrained(**options, batch_size=1)
    torch.testing.assert_close(one_by_one.score(x, [""] * 5), full, atol=1e-5, rtol=0)
    permutation = torch.tensor([3, 0, 4, 2, 1])
    torch.testing.assert_close(reward.score(x[permutation], [""] * 5), full[permutation])
    assert reward.score(x[:0], []).shape == (0,)
    with pytest.raises(ValueError, match="255"):
        reward.score((x * 255).to(torch.uint8), [""] * 5)


def test_score_range_is_the_exact_range_on_unit_embeddings(options, reward):
    low, high = reward.score_range
    state = torch.load(options["predictor"], weights_only=True)
    # The MLP has no activations: an affine map w . e + b; on unit vectors e it spans
    # [b - |w|, b + |w|], reached at e = -+ w / |w|.
    weight, bias = torch.eye(CLIP_PROJECTION_DIM, dtype=torch.float64), torch.zeros(16).double()
    for index in (0, 2, 4, 6, 7):
        w, b = state[f"layers.{index}.weight"].double(), state[f"layers.{index}.bias"].double()
        weight, bias = w @ weight, w @ bias + b
    w, b = weight[0], float(bias[0])
    assert high - low == pytest.approx(2 * float(w.norm()), rel=2e-3)
    assert (low + high) / 2 == pytest.approx(b, abs=1e-9)
    with torch.no_grad():
        best = reward.mlp(torch.stack([w, -w]).float() / w.norm())[:, 0]
    assert low < float(best[1]) < low + 2e-3 * (high - low)
    assert high - 2e-3 * (high - low) < float(best[0]) < high
    scores = reward.score(images(8, seed=3), [""] * 8)
    assert ((scores > low) & (scores < high)).all()


def test_features_are_the_unit_norm_predictor_inputs(options, reward):
    x = images(3, seed=4)
    features = reward.features(x)
    assert features.shape == (3, CLIP_PROJECTION_DIM) and features.dtype == torch.float32
    torch.testing.assert_close(features.norm(dim=-1), torch.ones(3))
    with torch.no_grad():
        torch.testing.assert_close(reward.mlp(features)[:, 0], reward.score(x, [""] * 3))
    assert reward.features(x[:0]).shape == (0, CLIP_PROJECTION_DIM)


def test_prepare_and_load_round_trip(options, tmp_path):
    assert reward_class("aesthetic") is AestheticReward
    config = AestheticRewardConfig(**options, batch_size=4)
    prepared = AestheticReward.prepare(config, tmp_path, "cpu")
    record = json.loads((tmp_path / "reward.json").read_text())
    assert record["name"] == "AES" and record["clip"] == options["clip"]
    assert record["predictor_file"] == options["predictor"]
    assert prepared.metadata["reward"].startswith("AES sac+logos")
    loaded = AestheticReward.load(config, tmp_path, "cpu")
    x = images(2, seed=5)
    fresh = AestheticReward.from_pretrained(**options)
    torch.testing.assert_close(loaded.score(x, ["", ""]), fresh.score(x, ["", ""]))
    other = AestheticRewardConfig(clip=options["clip"], predictor=options["predictor"] + "x")
    with pytest.raises(ValueError, match="Rematerialize"):
        AestheticReward.load(other, tmp_path, "cpu")
    with pytest.raises(FileNotFoundError, match="materialize"):
        AestheticReward.load(config, tmp_path / "empty", "cpu")
    with pytest.raises(ValueError, match="batch_size"):
        AestheticRewardConfig(batch_size=0)


def test_missing_weights_name_what_to_download(options, tmp_path):
    command = f'hf download {AESTHETIC_REPO} "{AESTHETIC_FILE}"'
    with pytest.raises(AestheticWeightsNotFoundError) as caught:
        find_predictor(AESTHETIC_REPO, cache_dir=tmp_path)  # an empty cache
    assert command in str(caught.value) and isinstance(caught.value, FileNotFoundError)
    with pytest.raises(AestheticWeightsNotFoundError, match=re.escape(command)):
        AestheticReward.from_pretrained(options["clip"], tmp_path / "nowhere.pth")
    with pytest.raises(AestheticWeightsNotFoundError, match=re.escape(command)):
        find_predictor(tmp_path)  # a folder without the file
    clip_command = 'hf download openai/clip-vit-large-patch14 --include "*.json"'
    with pytest.raises(AestheticWeightsNotFoundError, match=re.escape(clip_command)):
        AestheticReward.from_pretrained(tmp_path / "no_clip", options["predictor"])
    with pytest.raises(AestheticWeightsNotFoundError, match=re.escape("hf download me/clip")):
        AestheticReward.from_pretrained("me/clip", options["predictor"])


def test_predictor_found_in_folder_and_hugging_face_cache(options, tmp_path):
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / AESTHETIC_FILE).write_bytes(b"weights")
    assert find_predictor(folder) == folder / AESTHETIC_FILE
    revision = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "cache" / "models--camenduru--improved-aesthetic-predictor"
    (repo / "snapshots" / revision).mkdir(parents=True)
    (repo / "snapshots" / revision / AESTHETIC_FILE).write_bytes(b"weights")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision)
    found = find_predictor(AESTHETIC_REPO, cache_dir=tmp_path / "cache")
    assert found == repo / "snapshots" / revision / AESTHETIC_FILE


def test_wrong_predictor_files_are_clear_errors(options, tmp_path):
    corrupt = tmp_path / "corrupt.pth"
    corrupt.write_bytes(b"not a state dict")
    with pytest.raises(AestheticPredictorError, match=re.escape("corrupt.pth as the aesthetic")):
        AestheticReward.from_pretrained(options["clip"], corrupt)
    state = torch.load(options["predictor"], weights_only=True)
    wide = dict(state)
    wide["layers.0.weight"] = torch.zeros(1024, 768)  # the real predictor on a tiny CLIP
    torch.save(wide, tmp_path / "wide.pth")
    with pytest.raises(AestheticPredictorError, match="16-wide"):
        AestheticReward.from_pretrained(options["clip"], tmp_path / "wide.pth")
