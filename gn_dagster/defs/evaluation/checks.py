"""Blocking check of the score table: every evaluation image scored once, every score valid."""

from dagster import AssetCheckResult, asset_check

from gn_dagster.metadata import check_result
from gn_dagster.prompt_tables import read_prompts_frame
from gn_dagster.resources.models import ComputeResource, RewardResource
from gn_dagster.resources.storage import StorageResource
from gn_models.evaluation.quality import score_table_complete
from gn_models.utils.tables import read_parquet
from gn_models.utils.versions import current


@asset_check(
    asset="scores",
    name="score_table_complete",
    blocking=True,
    description=(
        "Every evaluation prompt x seed is scored exactly once for every sampling setting and "
        "method, and every judge and filter reward is finite and within its model's range."
    ),
)
def score_table_check(
    storage: StorageResource,
    judge_reward: RewardResource,
    filter_reward: RewardResource,
    compute: ComputeResource,
) -> AssetCheckResult:
    scores = read_parquet(storage.scores_path)
    index = read_parquet(current(storage.eval_images_dir, "index.parquet"))
    prompts = [p.text for p in read_prompts_frame(storage.prompts_path("eval"))]
    judge = judge_reward.load(storage.reward_dir("judge"), compute.device)
    filt = filter_reward.load(storage.reward_dir("filter"), compute.device)
    ranges = {"reward_judge": judge.score_range, "reward_filter": filt.score_range}
    seeds = sorted(index["seed"].unique().tolist())
    return check_result(score_table_complete(scores, prompts, seeds, index, ranges))
