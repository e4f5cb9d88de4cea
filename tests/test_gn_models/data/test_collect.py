from dataclasses import replace

import numpy as np
import pytest
import torch

from gn_models.data.collect import CollectionConfig, collect_noise_sequences, prompt_seed
from gn_models.rewards.base import RewardModel
from gn_models.sampling.re_denoise import re_denoise
from gn_models.types import Prompt
from helpers.analytic_backend import AnalyticBackend


class Brightness(RewardModel):
    name, version, score_range = "brightness", "test", (0.0, 1.0)

    def score(self, images, prompts, labels):
        return images.float().mean(dim=(1, 2, 3))


PROMPTS = [Prompt("a", 1), Prompt("bb"), Prompt("ccc", 3)]


def test_sequences_are_repeated_redenoise_and_rewards_follow_the_config():
    backend = AnalyticBackend()
    config = CollectionConfig(
        seeds_per_prompt=2, num_redenoise=3, num_steps=10, batch_size=4, renormalize=False
    )
    data = collect_noise_sequences(backend, Brightness(), PROMPTS, config)
    assert data.noise.shape == (6, 4, 1, 6, 10) and data.reward.shape == (6, 4)
    assert list(data.seed[:2]) == [prompt_seed("a", 0), prompt_seed("a", 1)]
    np.testing.assert_array_equal(data.label, [1, 1, -1, -1, 3, 3])
    x = backend.initial_noise([int(data.seed[2])])
    cond = backend.encode_prompts(["bb"])
    for k in range(1, 4):
        x = re_denoise(backend, x, cond, 5.5, 1.0, 10)
        np.testing.assert_allclose(data.noise[2, k], x[0].numpy(), atol=1e-5)
    assert np.isnan(data.reward[:, 2]).all()  # reward_states [1, 3]: x_T, x'_1 and x'_3
    assert not np.isnan(data.reward[:, [0, 1, 3]]).any()
    np.testing.assert_array_equal(data.kept, data.reward[:, 3] > data.reward[:, 0])


def test_pairs_are_the_n_equals_1_case_and_every_step_rewards():
    backend = AnalyticBackend()
    pairs = collect_noise_sequences(
        backend, Brightness(), PROMPTS, CollectionConfig(1, num_redenoise=1, batch_size=2)
    )
    chain = collect_noise_sequences(
        backend, Brightness(), PROMPTS, CollectionConfig(1, num_redenoise=2, reward_every_step=True)
    )
    assert pairs.noise.shape[1] == 2 and not np.isnan(chain.reward).any()
    np.testing.assert_allclose(pairs.noise, chain.noise[:, :2], atol=1e-6)
    np.testing.assert_allclose(pairs.reward, chain.reward[:, :2], atol=1e-6)


def test_unet_rows_count_work_whatever_the_batching():
    counts = []
    for batch_size in (1, 6):
        backend = AnalyticBackend()
        config = CollectionConfig(2, num_redenoise=2, num_steps=4, batch_size=batch_size)
        collect_noise_sequences(backend, Brightness(), PROMPTS, config)
        counts.append((backend.unet_calls, backend.unet_rows))
    (calls_1, rows_1), (calls_6, rows_6) = counts
    assert rows_1 == rows_6 > 0 and calls_1 == 6 * calls_6


def test_a_renormalized_chain_stays_on_the_norm_of_x_T_and_keeps_each_step_s_direction():
    backend = AnalyticBackend()
    config = CollectionConfig(2, num_redenoise=4, batch_size=4, reward_states=[2])
    data = collect_noise_sequences(backend, Brightness(), PROMPTS, config)
    raw = collect_noise_sequences(
        backend, Brightness(), PROMPTS, replace(config, renormalize=False)
    )
    norms = np.linalg.norm(data.noise.reshape(6, 5, -1), axis=2)
    np.testing.assert_allclose(norms, norms[:, :1].repeat(5, axis=1), rtol=1e-5)
    raw_norms = np.linalg.norm(raw.noise.reshape(6, 5, -1), axis=2)
    assert np.abs(raw_norms[:, -1] - raw_norms[:, 0]).min() > 1e-2  # the paper's chain drifts
    # x'_1 renormalized is the raw x'_1 rescaled; x'_2 continues from the rescaled state
    scale = norms[:, 0] / raw_norms[:, 1]
    np.testing.assert_allclose(
        data.noise[:, 1], raw.noise[:, 1] * scale[:, None, None, None], atol=1e-5
    )
    x = torch.from_numpy(data.noise[:, 1])
    cond = backend.encode_prompts([p.text for p in PROMPTS for _ in range(2)])
    step = re_denoise(backend, x, cond, 5.5, 1.0, 10)
    expected = step * (x.flatten(1).norm(dim=1) / step.flatten(1).norm(dim=1))[:, None, None, None]
    np.testing.assert_allclose(data.noise[:, 2], expected.numpy(), atol=1e-5)
    assert config.reward_steps() == [0, 2, 4]
    assert not np.isnan(data.reward[:, [0, 2, 4]]).any() and np.isnan(data.reward[:, [1, 3]]).all()


def test_reward_states_are_checked():
    with pytest.raises(ValueError, match=r"numbered 1\.\.n"):
        CollectionConfig(reward_states=[0, 2]).reward_steps()
    assert CollectionConfig(num_redenoise=3, reward_states=[2, 7]).reward_steps() == [0, 2, 3]
