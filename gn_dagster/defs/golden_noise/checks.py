"""Checks of every golden-noise checkpoint: one that does not reload or gives non-finite noise
would spoil the evaluation (blocking); one whose noise leaves the Gaussian shell is reported
(a warning: the published NPNet may drift, and its row is still worth seeing)."""

import numpy as np
import torch
from dagster import (
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetCheckSpec,
    Definitions,
    definitions,
    multi_asset_check,
)

from gn_dagster.metadata import check_result
from gn_dagster.resources.models import ComputeResource, DiffusionResource
from gn_dagster.resources.storage import StorageResource
from gn_models.evaluation.quality import NORM_Z, Verdict, norm_on_shell
from gn_models.golden_noise.registry import MODEL_CLASSES, load_golden_model
from gn_models.utils.versions import localize

PROBE_PROMPTS = ["a photo of an astronaut riding a horse", "the handwritten number 3"]
PROBE_SEEDS = [11, 12, 13, 14, 15, 16, 17, 18]
PROBE_CFG_SCALES = [None, 5.5, 2.0, 1.0]  # None: the default rollout; else the chosen lengths


def checkpoint_check(model_name: str) -> AssetChecksDefinition:
    """Checks of a model asset: the checkpoint reloads from storage and its golden noise for
    probe prompts and seeds (at every probe CFG scale's rollout length) has x_T's shape and is
    finite (blocking); and it stays on x_T's Gaussian shell (warning)."""

    @multi_asset_check(
        name=f"{model_name}_checkpoint_checks",
        specs=[
            AssetCheckSpec(
                "checkpoint_reloads_with_finite_output",
                asset=model_name,
                blocking=True,
                description="The checkpoint reloads from storage; its golden noise for probe "
                "x_T and prompts has x_T's shape and is finite.",
            ),
            AssetCheckSpec(
                "golden_noise_on_shell",
                asset=model_name,
                description=f"The probe golden noise stays on x_T's Gaussian shell: each norm "
                f"within {NORM_Z:g} chi standard deviations (~0.71) of x_T's (a warning).",
            ),
        ],
    )
    def _check(storage: StorageResource, diffusion: DiffusionResource, compute: ComputeResource):
        backend = diffusion.load(storage.base_model_dir, compute.device)
        model = load_golden_model(localize(storage.checkpoint_dir(model_name)), backend.device)
        cond = backend.encode_prompts(PROBE_PROMPTS * (len(PROBE_SEEDS) // len(PROBE_PROMPTS)))
        x_T = backend.initial_noise(PROBE_SEEDS)
        with torch.no_grad():
            golden = [model.golden_noise(x_T, cond, cfg) for cfg in PROBE_CFG_SCALES]
        yield check_result(finite_output(golden, x_T), "checkpoint_reloads_with_finite_output")
        x_T = x_T.float().cpu().numpy()
        shell = norm_on_shell(
            np.concatenate([g.float().cpu().numpy() for g in golden]),
            np.concatenate([x_T] * len(golden)),
        )
        yield check_result(shell, "golden_noise_on_shell", AssetCheckSeverity.WARN)

    return _check


def finite_output(golden: list[torch.Tensor], x_T: torch.Tensor) -> Verdict:
    """Every probe output has x_T's shape (B, C, H, W) and is finite."""
    shapes = sorted({tuple(g.shape) for g in golden})
    if shapes != [tuple(x_T.shape)]:
        return Verdict(False, f"golden noise has shapes {shapes}, x_T {tuple(x_T.shape)}.")
    finite = all(bool(torch.isfinite(g).all()) for g in golden)
    return Verdict(
        finite,
        f"{len(golden)} probe batches of shape {tuple(x_T.shape)}: "
        + ("all finite." if finite else "NOT all finite."),
    )


@definitions
def defs() -> Definitions:
    return Definitions(asset_checks=[checkpoint_check(kind) for kind in MODEL_CLASSES])
