"""ImageReward on a tiny random BLIP saved in the released ImageReward.pt layout.

The real model is BLIP ViT-L/16 + BERT-base (~1.8 GB); ``helpers.tiny_rewards`` writes a tiny
one key by key in BLIP's original names (blip.visual_encoder.blocks.0.attn.qkv.weight, ...),
independently of the reward's key mapping. The reference below is BLIP's vit.py and med.py
forward written out with torch functions on those original names, so a wrong rename, head
count, epsilon or block order in the reward shows up as a different score.
"""

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torchvision import transforms
from transformers import AutoTokenizer

from gn_models.rewards.image_reward import (
    IMAGE_REWARD_REPO,
    TOKENIZER_REPO,
    ImageReward,
    ImageRewardCheckpointError,
    ImageRewardConfig,
    ImageRewardWeightsNotFoundError,
    find_image_reward_files,
    map_checkpoint_keys,
    preprocess,
)
from gn_models.rewards.registry import reward_class
from helpers.tiny_rewards import IR_TEXT, IR_VISION, build_tiny_image_reward

MEAN, STD = 0.16717362830052426, 1.0333394966054072  # ImageReward.py's normalisation
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
PROMPTS = [
    "a red fox in the snow",
    "an astronaut riding a horse",
    "a red fox in the snow",  # repeated prompts are scored like distinct ones
    "a cat " * 30,  # longer than 35 tokens: truncated
    "watercolor of a lighthouse, 4k!",
]


@pytest.fixture(scope="module")
def options(tmp_path_factory):
    return build_tiny_image_reward(tmp_path_factory.mktemp("tiny_image_reward"))


@pytest.fixture(scope="module")
def state(options):
    return torch.load(Path(options["model"]) / "ImageReward.pt", weights_only=True)


@pytest.fixture(scope="module")
def reward(options):
    return ImageReward.from_pretrained(**options, batch_size=16)


def images(n, height=32, width=48, channels=3, seed=1):
    return torch.rand(n, channels, height, width, generator=torch.Generator().manual_seed(seed))


def reference_tokens(options, prompts):
    tokenizer = AutoTokenizer.from_pretrained(options["tokenizer"], local_files_only=True)
    tokenizer.add_special_tokens({"bos_token": "[DEC]", "additional_special_tokens": ["[ENC]"]})
    return tokenizer(
        prompts, padding="max_length", truncation=True, max_length=35, return_tensors="pt"
    )


def reference_rewards(state, pixels, input_ids, attention_mask):
    """BLIP's vit.py (LayerNorm eps 1e-6, 64-wide heads) and med.py (eps 1e-12, self-attention,
    cross-attention to all image tokens, feed-forward) on the original key names, then
    ImageReward's MLP on the [CLS] state and its normalisation."""

    def ln(x, key, eps):
        return F.layer_norm(x, x.shape[-1:], state[key + ".weight"], state[key + ".bias"], eps)

    def lin(x, key):
        return F.linear(x, state[key + ".weight"], state[key + ".bias"])

    def attend(q, k, v, heads, mask=None):
        (b, lq, d), lk = q.shape, k.shape[1]
        q, k, v = (t.view(b, -1, heads, d // heads).transpose(1, 2) for t in (q, k, v))
        scores = q @ k.transpose(-1, -2) / math.sqrt(d // heads)  # (b, heads, lq, lk)
        if mask is not None:
            scores = scores + mask
        assert scores.shape[-1] == lk
        return (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, lq, d)

    vis = "blip.visual_encoder."
    weight = state[vis + "patch_embed.proj.weight"]
    x = F.conv2d(pixels, weight, state[vis + "patch_embed.proj.bias"], stride=weight.shape[-1])
    x = x.flatten(2).transpose(1, 2)
    x = (
        torch.cat([state[vis + "cls_token"].expand(len(x), -1, -1), x], 1)
        + state[vis + "pos_embed"]
    )
    for i in range(IR_VISION["layers"]):
        block = f"{vis}blocks.{i}."
        q, k, v = lin(ln(x, block + "norm1", 1e-6), block + "attn.qkv").chunk(3, dim=-1)
        x = x + lin(attend(q, k, v, x.shape[-1] // 64), block + "attn.proj")
        hidden = F.gelu(lin(ln(x, block + "norm2", 1e-6), block + "mlp.fc1"))
        x = x + lin(hidden, block + "mlp.fc2")
    image = ln(x, vis + "norm", 1e-6)

    txt, heads, eps = "blip.text_encoder.", IR_TEXT["heads"], 1e-12
    h = state[txt + "embeddings.word_embeddings.weight"][input_ids]
    h = h + state[txt + "embeddings.position_embeddings.weight"][: input_ids.shape[1]]
    h = ln(h, txt + "embeddings.LayerNorm", eps)
    mask = (1.0 - attention_mask[:, None, None, :].float()) * -10000.0  # med.py's
    for i in range(IR_TEXT["layers"]):
        layer = f"{txt}encoder.layer.{i}."
        a = layer + "attention."
        q, k, v = (lin(h, a + f"self.{n}") for n in ("query", "key", "value"))
        h = ln(
            lin(attend(q, k, v, heads, mask), a + "output.dense") + h, a + "output.LayerNorm", eps
        )
        c = layer + "crossattention."
        q = lin(h, c + "self.query")
        k, v = lin(image, c + "self.key"), lin(image, c + "self.value")
        h = ln(lin(attend(q, k, v, heads), c + "output.dense") + h, c + "output.LayerNorm", eps)
        f = lin(F.gelu(lin(h, layer + "intermediate.dense")), layer + "output.dense")
        h = ln(f + h, layer + "output.LayerNorm", eps)
    r = h[:, 0]
    for index in (0, 2, 4, 6, 7):
        r = lin(r, f"mlp.layers.{index}")
    return (r[:, 0] - MEAN) / STD


def test_scores_follow_the_reference_formula(options, state, reward):
    # 32-pixel short side: the transform is a centre crop and the normalisation, no resampling.
    x = images(len(PROMPTS), height=32, width=48)
    scores = reward.score(x, PROMPTS, [None] * len(PROMPTS))
    assert scores.shape == (len(PROMPTS),) and scores.dtype == torch.float32
    assert scores.device.type == "cpu"
    pixels = transforms.Normalize(CLIP_MEAN, CLIP_STD)(transforms.CenterCrop(32)(x))
    tokens = reference_tokens(options, PROMPTS)
    assert tokens["input_ids"].shape == (len(PROMPTS), 35)
    expected = reference_rewards(state, pixels, tokens["input_ids"], tokens["attention_mask"])
    torch.testing.assert_close(scores, expected, atol=1e-4, rtol=0)
    assert scores.std() > 1e-3  # the images and prompts make a difference
    assert reward.name == "ImageReward" and reward.version == "ImageReward"  # the folder
    assert reward.image_size == IR_VISION["image"]  # read from pos_embed: 1 + (32/16)^2


def test_every_weight_comes_from_the_file(state, reward):
    net = reward.net
    pairs = {
        "embeddings.class_embedding": "cls_token",
        "embeddings.position_embedding": "pos_embed",
        "embeddings.patch_embedding.weight": "patch_embed.proj.weight",
        "encoder.layers.1.layer_norm1.bias": "blocks.1.norm1.bias",
        "encoder.layers.1.self_attn.qkv.weight": "blocks.1.attn.qkv.weight",
        "encoder.layers.0.self_attn.projection.weight": "blocks.0.attn.proj.weight",
        "encoder.layers.0.layer_norm2.weight": "blocks.0.norm2.weight",
        "encoder.layers.1.mlp.fc2.bias": "blocks.1.mlp.fc2.bias",
        "post_layernorm.weight": "norm.weight",
    }
    vision = dict(net.vision_model.named_parameters())
    for ours, theirs in pairs.items():
        torch.testing.assert_close(vision[ours], state["blip.visual_encoder." + theirs])
    text = dict(net.text_encoder.named_parameters())
    key = "encoder.layer.1.crossattention.self.key.weight"
    assert text[key].shape == (IR_TEXT["width"], IR_VISION["width"])  # to the image tokens
    assert len(text) == len([k for k in state if k.startswith("blip.text_encoder.")]) - 1
    for name, value in text.items():  # every text weight, same names (position_ids dropped)
        torch.testing.assert_close(value, state["blip.text_encoder." + name])
    for name, value in net.mlp.named_parameters():
        torch.testing.assert_close(value, state["mlp." + name])
    mapped = map_checkpoint_keys(state)
    assert not [k for k in mapped if k.startswith("blip.") or k.endswith("position_ids")]
    assert len(mapped) == sum(1 for _ in net.parameters())  # nothing else, nothing left out


def test_checkpoint_problems_are_clear_errors(options, state, tmp_path):
    with pytest.raises(ImageRewardCheckpointError, match="Not an ImageReward checkpoint"):
        map_checkpoint_keys({**state, "blip.itm_head.weight": torch.zeros(2, 32)})
    with pytest.raises(ImageRewardCheckpointError, match="Not an ImageReward checkpoint"):
        map_checkpoint_keys({**state, "blip.visual_encoder.blocks.0.ls1.gamma": torch.zeros(2)})
    folder = tmp_path / "partial"
    folder.mkdir()
    (folder / "med_config.json").write_text(
        (Path(options["model"]) / "med_config.json").read_text()
    )
    partial = {k: v for k, v in state.items() if "crossattention.output.dense.bias" not in k}
    torch.save(partial, folder / "ImageReward.pt")
    with pytest.raises(ImageRewardCheckpointError, match="missing"):
        ImageReward.from_pretrained(folder, options["tokenizer"])
    (folder / "ImageReward.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ImageRewardCheckpointError, match="truncated or corrupt"):
        ImageReward.from_pretrained(folder, options["tokenizer"])


def test_batching_order_and_prompts(options, reward):
    x = images(len(PROMPTS), height=40, width=70, seed=2)
    full = reward.score(x, PROMPTS, [None] * len(PROMPTS))
    one_by_one = ImageReward.from_pretrained(**options, batch_size=1)
    torch.testing.assert_close(one_by_one.score(x, PROMPTS), full, atol=1e-5, rtol=0)
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


def test_scores_lie_in_the_score_range(reward):
    low, high = reward.score_range
    assert math.isfinite(low) and math.isfinite(high) and low < high
    for seed in range(3):
        x = images(5, height=64, width=64, seed=10 + seed)
        scores = reward.score(x, PROMPTS)
        assert ((scores > low) & (scores < high)).all()
    # Extreme inputs (a black and a white image, a one-token prompt) stay inside too.
    extremes = torch.stack([torch.zeros(3, 32, 32), torch.ones(3, 32, 32)])
    scores = reward.score(extremes, ["!", "a"])
    assert ((scores > low) & (scores < high)).all()


@pytest.mark.parametrize("height,width", [(300, 200), (100, 60), (224, 224), (240, 400)])
def test_preprocess_matches_the_reference_pil_transform(height, width):
    """ImageReward's _transform(224): Resize(224, BICUBIC), CenterCrop, RGB, ToTensor, CLIP
    normalisation, applied to a PIL image."""
    transform = transforms.Compose(
        [
            transforms.Resize(224, interpolation=transforms.InterpolationMode.BICUBIC),
            transforms.CenterCrop(224),
            transforms.ToTensor(),
            transforms.Normalize(CLIP_MEAN, CLIP_STD),
        ]
    )
    rng = np.random.default_rng(height * width)
    yy, xx = np.mgrid[0:height, 0:width] / max(height, width)
    smooth = np.stack([np.sin(6 * xx + c) * np.cos(4 * yy - c) for c in range(3)], -1)
    pixels = np.clip(0.5 + 0.4 * smooth + rng.normal(0, 0.05, smooth.shape), 0, 1)
    image = Image.fromarray((pixels * 255).round().astype(np.uint8))
    expected = transform(image)
    ours = preprocess(transforms.functional.to_tensor(image)[None])[0]
    assert ours.shape == expected.shape == (3, 224, 224) and ours.dtype == torch.float32
    # PIL resamples in 8 bits; ours in float32. One 8-bit level is 0.015 after normalising.
    difference = (ours - expected).abs()
    assert difference.max() < 0.06 and difference.mean() < 0.006


def test_preprocess_channels_and_bad_input():
    rgb = images(2, 40, 56, seed=5)
    rgba = torch.cat([rgb, torch.rand(2, 1, 40, 56)], dim=1)
    torch.testing.assert_close(preprocess(rgba, 32), preprocess(rgb, 32))
    gray = rgb[:, :1]
    torch.testing.assert_close(preprocess(gray, 32), preprocess(gray.expand(-1, 3, -1, -1), 32))
    with pytest.raises(ValueError, match="channels"):
        preprocess(torch.zeros(1, 5, 8, 8))
    with pytest.raises(ValueError, match="shape"):
        preprocess(torch.zeros(3, 8, 8))


def test_prepare_and_load_round_trip(options, tmp_path):
    assert reward_class("image_reward") is ImageReward
    config = ImageRewardConfig(**options, batch_size=4)
    prepared = ImageReward.prepare(config, tmp_path, "cpu")
    record = json.loads((tmp_path / "reward.json").read_text())
    assert record["name"] == "ImageReward" and record["model"] == options["model"]
    assert record["tokenizer"] == options["tokenizer"]
    assert record["checkpoint"] == str(Path(options["model"]) / "ImageReward.pt")
    assert prepared.metadata["reward"] == "ImageReward ImageReward"
    loaded = ImageReward.load(config, tmp_path, "cpu")
    x = images(2, seed=4)
    fresh = ImageReward.from_pretrained(**options)
    torch.testing.assert_close(loaded.score(x, PROMPTS[:2]), fresh.score(x, PROMPTS[:2]))
    other = ImageRewardConfig(model=options["model"] + "_other", tokenizer=options["tokenizer"])
    with pytest.raises(ValueError, match="Rematerialize"):
        ImageReward.load(other, tmp_path, "cpu")
    with pytest.raises(FileNotFoundError, match="materialize"):
        ImageReward.load(config, tmp_path / "empty", "cpu")
    with pytest.raises(ValueError, match="batch_size"):
        ImageRewardConfig(batch_size=0)


def test_missing_weights_name_what_to_download(options, tmp_path):
    command = f"hf download {IMAGE_REWARD_REPO} ImageReward.pt med_config.json"
    with pytest.raises(ImageRewardWeightsNotFoundError) as caught:
        find_image_reward_files(IMAGE_REWARD_REPO, cache_dir=tmp_path)  # an empty cache
    assert command in str(caught.value) and f"hf download {TOKENIZER_REPO}" in str(caught.value)
    assert isinstance(caught.value, FileNotFoundError)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ImageRewardWeightsNotFoundError, match=re.escape(command)):
        ImageReward.from_pretrained(empty, options["tokenizer"])
    with pytest.raises(ImageRewardWeightsNotFoundError, match=re.escape("hf download me/bert")):
        ImageReward.from_pretrained(options["model"], "me/bert")


def test_finds_files_in_hugging_face_cache_layout(tmp_path):
    revision = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "models--THUDM--ImageReward"
    snapshot = repo / "snapshots" / revision
    snapshot.mkdir(parents=True)
    (snapshot / "ImageReward.pt").write_bytes(b"weights")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision)
    with pytest.raises(
        ImageRewardWeightsNotFoundError, match=re.escape("med_config.json is not in")
    ):
        find_image_reward_files(IMAGE_REWARD_REPO, cache_dir=tmp_path)
    (snapshot / "med_config.json").write_text("{}")
    found = find_image_reward_files(IMAGE_REWARD_REPO, cache_dir=tmp_path)
    assert found == (snapshot / "ImageReward.pt", snapshot / "med_config.json")
