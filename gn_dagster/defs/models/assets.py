"""Model assets: the base diffusion model and the two reward models, on every profile.

Each asset asks its resource to prepare the model into its folder of the storage: the digits
profile trains them here; the sdxl profile verifies pretrained weights and records which (the
weights stay where they are). Downstream steps load them through the same resources.
"""

from dagster import AssetExecutionContext, DataVersion, MaterializeResult, MetadataValue, asset

from gn_dagster.metadata import line_plot
from gn_dagster.resources.models import ComputeResource, DiffusionResource, RewardResource
from gn_dagster.resources.storage import StorageResource
from gn_models.types import PreparedModel

GROUP = "models"


def prepared_result(prepared: PreparedModel, version: str, url: str, title: str):
    """The materialization of a prepared model: its numbers and a plot of each curve."""
    plots = {
        f"{name.replace(' ', '_')}_curve": line_plot({name: curve}, title, "step", name)
        for name, curve in prepared.curves.items()
    }
    return MaterializeResult(
        data_version=DataVersion(version),
        metadata={"path": MetadataValue.path(url), **prepared.metadata, **plots},
    )


@asset(
    group_name=GROUP,
    code_version="2",
    pool="gpu",
    description=(
        "The base diffusion model of the `diffusion` resource. digits: a pixel-space diffusers "
        "UNet2DConditionModel (epsilon prediction, squaredcos DDPM schedule) trained on half of "
        "sklearn's digits with captions from five training phrasings (frozen MiniLM "
        "prompt_embeds) and prompt dropout for CFG. sdxl: a pretrained diffusers pipeline, "
        "loaded once to verify it and recorded (model id, pipeline, latent shape, widths)."
    ),
)
def base_model(
    context: AssetExecutionContext,
    storage: StorageResource,
    diffusion: DiffusionResource,
    compute: ComputeResource,
) -> MaterializeResult:
    prepared, version = diffusion.prepare(storage.base_model_dir, compute.device)
    return prepared_result(prepared, version, storage.base_model_dir, "base model loss")


def reward_asset(role: str, resource_key: str, description: str):
    """The asset that prepares the ``role`` ("filter" or "judge") reward of ``resource_key``."""

    @asset(
        name=f"{role}_reward_model",
        group_name=GROUP,
        code_version="2",
        pool="gpu",  # HPSv2 on the sdxl profile
        required_resource_keys={resource_key, "storage", "compute"},
        description=description,
    )
    def _reward(context: AssetExecutionContext) -> MaterializeResult:
        url = context.resources.storage.reward_dir(role)
        reward: RewardResource = getattr(context.resources, resource_key)
        prepared, version = reward.prepare(url, context.resources.compute.device)
        return prepared_result(prepared, version, url, f"{role} reward")

    return _reward


filter_reward_model = reward_asset(
    "filter",
    "filter_reward",
    "The filter reward (`filter_reward` resource): re-denoise samples are kept when it prefers "
    "their images. digits: logistic regression (digit_classifier, the default) or a calibrated "
    "MLP with an 'over-inked' class (GN_FILTER_REWARD=digit_mlp), on digits the base model "
    "never saw, reward = probability of the prompted digit (held-out accuracy in "
    "metadata); sdxl: HPSv2.",
)
judge_reward_model = reward_asset(
    "judge",
    "judge_reward",
    "The judge reward (`judge_reward` resource): scores the evaluation images. It may differ "
    "from the filter, so that a gain is judged by a reward the models never trained on. digits: "
    "a digit CNN trained on other digits; sdxl: PickScore (GN_JUDGE_REWARD=hpsv2: HPSv2).",
)
