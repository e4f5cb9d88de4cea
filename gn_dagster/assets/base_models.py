"""Model assets of the digits profile: the base diffusion model and the reward classifier."""

from dagster import (
    AssetExecutionContext,
    Config,
    DataVersion,
    MaterializeResult,
    MetadataValue,
    asset,
)

from gn_dagster.metadata import line_plot
from gn_dagster.profiles import DigitsProfileResource
from gn_dagster.storage import StorageResource
from gn_models.utils.digest import digest_tree
from gn_models.data.digits import load_digit_splits
from gn_models.rewards.digit_classifier import DigitClassifierReward
from gn_models.backends.digits_training import BaseModelTrainingConfig, train_digits_base_model
from gn_models.utils.fsio import staged_write
from gn_models.backends.minilm_text_encoder import MiniLMTextEncoder

GROUP = "models"


class BaseModelConfig(Config):
    steps: int = 450
    batch_size: int = 128
    learning_rate: float = 2e-3
    prompt_dropout: float = 0.1
    seed: int = 0
    max_prompt_tokens: int = 16


@asset(
    group_name=GROUP,
    code_version="1",
    pool="gpu",
    description=(
        "Digits base model: a pixel-space diffusers UNet2DConditionModel (epsilon prediction, "
        "squaredcos DDPM schedule) trained on half of sklearn's digits with captions from five "
        "training phrasings (frozen MiniLM prompt_embeds) and prompt dropout for CFG."
    ),
)
def base_model(
    context: AssetExecutionContext,
    config: BaseModelConfig,
    storage: StorageResource,
    profile: DigitsProfileResource,
) -> MaterializeResult:
    splits = load_digit_splits(config.seed)
    encoder = MiniLMTextEncoder(config.max_prompt_tokens, profile.torch_device())
    backend, log = train_digits_base_model(
        *splits.base,
        encoder,
        BaseModelTrainingConfig(
            config.steps,
            config.batch_size,
            config.learning_rate,
            config.prompt_dropout,
            config.seed,
        ),
        device=profile.device,
    )
    with staged_write(storage.base_model_dir) as tmp:
        backend.save(tmp)
        version = DataVersion(digest_tree(tmp))
    window = max(1, len(log.losses) // 20)
    smoothed = [
        sum(log.losses[i : i + window]) / window
        for i in range(0, len(log.losses) - window + 1, window)
    ]
    return MaterializeResult(
        data_version=version,
        metadata={
            "path": MetadataValue.path(storage.base_model_dir),
            "parameters": sum(p.numel() for p in backend.unet.parameters()),
            "train_images": len(splits.base[1]),
            "steps": config.steps,
            "final_loss": sum(log.losses[-window:]) / window,
            "train_seconds": round(log.seconds, 1),
            "loss_curve": line_plot(
                {"train loss": (list(range(window, len(log.losses) + 1, window)), smoothed)},
                "base model loss",
                "step",
                "MSE (epsilon)",
            ),
        },
    )


class RewardModelConfig(Config):
    seed: int = 0


@asset(
    group_name=GROUP,
    code_version="1",
    description=(
        "Digit-classifier reward: logistic regression on digits the base model never saw; "
        "reward = probability of the prompted digit. Held-out accuracy in metadata."
    ),
)
def reward_model(config: RewardModelConfig, storage: StorageResource) -> MaterializeResult:
    splits = load_digit_splits(config.seed)
    reward = DigitClassifierReward.fit(*splits.reward_train, seed=config.seed)
    accuracy = reward.accuracy(*splits.reward_test)
    with staged_write(storage.reward_model_dir) as tmp:
        reward.save(tmp, heldout_accuracy=accuracy)
        version = DataVersion(digest_tree(tmp))
    return MaterializeResult(
        data_version=version,
        metadata={
            "path": MetadataValue.path(storage.reward_model_dir),
            "reward": f"{reward.name} {reward.version}",
            "heldout_accuracy": accuracy,
            "train_images": len(splits.reward_train[1]),
            "heldout_images": len(splits.reward_test[1]),
        },
    )
