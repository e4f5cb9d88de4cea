"""Blocking check of every golden-noise checkpoint: a checkpoint that does not reload or gives
non-finite or out-of-band noise would spoil the evaluation."""

import torch
from dagster import (
    AssetCheckResult,
    AssetChecksDefinition,
    Definitions,
    asset_check,
    definitions,
)

from gn_dagster.metadata import check_result
from gn_dagster.resources.models import ComputeResource, DiffusionResource
from gn_dagster.resources.storage import StorageResource
from gn_models.evaluation.quality import NORM_BAND, norm_ratio_in_band
from gn_models.golden_noise.registry import MODEL_CLASSES, load_golden_model
from gn_models.utils.fsio import localize

PROBE_PROMPTS = ["a photo of an astronaut riding a horse", "the handwritten number 3"]
PROBE_SEEDS = [11, 12, 13, 14]


def checkpoint_check(model_name: str) -> AssetChecksDefinition:
    """Check of a model asset: the checkpoint reloads from storage, and its golden noise for
    probe prompts and seeds has x_T's shape, is finite and within the norm band."""

    @asset_check(
        asset=model_name,
        name="checkpoint_reloads_with_finite_output",
        blocking=True,
        description=(
            "The checkpoint reloads from storage; its golden noise for probe x_T and prompts "
            f"has x_T's shape, is finite, and each norm is within {NORM_BAND[0]}-"
            f"{NORM_BAND[1]} times x_T's."
        ),
    )
    def _check(
        storage: StorageResource, diffusion: DiffusionResource, compute: ComputeResource
    ) -> AssetCheckResult:
        backend = diffusion.load(storage.base_model_dir, compute.device)
        model = load_golden_model(localize(storage.checkpoint_dir(model_name)), backend.device)
        cond = backend.encode_prompts(PROBE_PROMPTS * (len(PROBE_SEEDS) // len(PROBE_PROMPTS)))
        x_T = backend.initial_noise(PROBE_SEEDS)
        with torch.no_grad():
            golden = model.golden_noise(x_T, cond)
        return check_result(
            norm_ratio_in_band(golden.float().cpu().numpy(), x_T.float().cpu().numpy())
        )

    return _check


@definitions
def defs() -> Definitions:
    return Definitions(asset_checks=[checkpoint_check(kind) for kind in MODEL_CLASSES])
