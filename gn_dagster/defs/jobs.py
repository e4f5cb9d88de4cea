"""Jobs a user runs: prepare the models, observe the prompt sources, collect noise sequences
per shard, verify stored shards, retrain and evaluate."""

from dagster import AssetSelection, Definitions, define_asset_job, definitions

from gn_dagster.partitions import prompt_shards
from gn_models.golden_noise.registry import MODEL_CLASSES

MODEL_ASSETS = ("base_model", "filter_reward_model", "judge_reward_model", "eval_prompts")


@definitions
def defs() -> Definitions:
    prepare_models = define_asset_job(
        "prepare_models",
        selection=AssetSelection.assets(*MODEL_ASSETS),
        description=(
            "Prepare the base diffusion model and the filter and judge rewards (digits: train "
            "them; sdxl: verify and record the pretrained weights); read the evaluation prompts."
        ),
    )
    observe = define_asset_job(
        "observe_prompt_sources",
        selection=AssetSelection.assets("prompt_source", "eval_prompt_source"),
        description="Record the current data version of every registered prompt shard and of "
        "the evaluation prompts.",
    )
    collect = define_asset_job(
        "collect_noise_sequences",
        selection=AssetSelection.assets("prompts", "noise_sequences"),
        partitions_def=prompt_shards,
        description="Collect noise sequences for one (changed) shard: read its prompts and run "
        "re-denoise sampling on them. The prompt sensor launches it for each changed shard; "
        "launch a backfill over the stale shards from the UI.",
    )
    verify = define_asset_job(
        "verify_noise_sequences",
        selection=AssetSelection.checks_for_assets("noise_sequences"),
        description="Run the checks of one stored shard without recomputing it: its arrays are "
        "read back and their digest compared with the data version recorded at "
        "materialization (finds corrupted or truncated chunk files), then the data checks. "
        "Launch it with the tag dagster/partition=<shard> (a checks-only job takes its "
        "partition from the tag), or execute the checks from the asset's Checks tab.",
    )
    train_and_evaluate = define_asset_job(
        "train_and_evaluate",
        selection=AssetSelection.assets(
            *MODEL_CLASSES, "eval_images", "scores", "realism", "comparison"
        ),
        description="Retrain and evaluate: train every golden-noise model on all shards; "
        "generate, score and compare evaluation images.",
    )
    return Definitions(jobs=[prepare_models, observe, collect, verify, train_and_evaluate])
