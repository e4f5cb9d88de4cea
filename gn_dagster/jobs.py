"""Jobs a user runs: prepare the models, observe the prompt sources, collect noise per shard,
retrain and evaluate."""

from dagster import AssetKey, AssetSelection, define_asset_job

from gn_dagster.assets.golden_models import MODEL_ASSET_NAMES
from gn_dagster.partitions import prompt_shards

prepare_models_job = define_asset_job(
    "prepare_models",
    selection=AssetSelection.assets("base_model", "reward_model", "eval_prompts"),
    description=(
        "Prepare the base diffusion model and the reward model (digits: train them; sdxl: "
        "verify and record the pretrained weights); read the evaluation prompts."
    ),
)
observe_prompt_sources_job = define_asset_job(
    "observe_prompt_sources",
    selection=AssetSelection.assets("prompt_source", "eval_prompt_source"),
    description="Record the current data version of every prompt shard and of the "
    "evaluation prompts; registers new shards.",
)
COLLECT_ASSETS = [AssetKey("prompts"), AssetKey("noise_pairs")]
collect_noise_job = define_asset_job(
    "collect_noise_pairs",
    selection=AssetSelection.assets(*COLLECT_ASSETS),
    partitions_def=prompt_shards,
    description="Collect noise for one (changed) shard: read its prompts and collect its noise "
    "pairs by re-denoise sampling. The prompt sensor launches it for each changed shard; "
    "launch a backfill over the stale shards from the UI.",
)
train_and_evaluate_job = define_asset_job(
    "train_and_evaluate",
    selection=AssetSelection.assets(*MODEL_ASSET_NAMES, "eval_images", "scores", "comparison"),
    description="Retrain and evaluate: train every golden-noise model on all shards; generate, "
    "score and compare evaluation images.",
)
JOBS = [prepare_models_job, observe_prompt_sources_job, collect_noise_job, train_and_evaluate_job]
