"""Stop on NaN or Inf before anything is written: noise, rewards, losses and model outputs.

A non-finite value in x_T or a golden noise poisons every image and every model trained on
it; the check names where it was found (asset, shard, method, sample) so the run stops with
an error a user can act on, before the data reaches storage.
"""

from __future__ import annotations

import numpy as np
import torch


class NonFiniteError(ValueError):
    """NaN or Inf in an array about to be written or used. The message names where."""


def require_finite(
    values: np.ndarray | torch.Tensor, where: str, samples: list[str] | None = None
) -> None:
    """Raise unless every entry of ``values`` is finite.

    Args:
        values: (N, ...) array or tensor of any float dtype; axis 0 indexes samples.
        where: what and where, e.g. ``"noise_sequences[shard-03]: noise"``.
        samples: optional (N,) descriptions of the samples (``"prompt 'a cat', seed 7"``).

    Raises:
        NonFiniteError: naming ``where``, the first bad sample (index and description) and
            how many samples hold NaN or Inf.
    """
    if isinstance(values, torch.Tensor):
        values = values.detach().float().cpu().numpy()
    values = np.asarray(values)
    if values.size == 0 or np.isfinite(values).all():
        return
    bad = ~np.isfinite(values.reshape(len(values), -1)).all(axis=1)
    first = int(np.argmax(bad))
    kind = "NaN" if np.isnan(values[first]).any() else "Inf"
    described = f" ({samples[first]})" if samples is not None else ""
    raise NonFiniteError(
        f"{where} holds {kind} at sample {first}{described}; {int(bad.sum())} of {len(values)} "
        "samples are not finite. Stopped before writing anything. A non-finite noise usually "
        "comes from a diverged model or a too-large CFG scale in fp16; check the inputs named."
    )


def require_finite_loss(loss: float, where: str, step: int) -> None:
    """Raise when a training loss is NaN or Inf.

    Raises:
        NonFiniteError: naming ``where`` and the step; lower the learning rate or check the
            data (its shards passed the finite checks of ``noise_sequences``).
    """
    if not np.isfinite(loss):
        raise NonFiniteError(
            f"{where}: the training loss is {loss} at step {step}. Stopped before writing the "
            "checkpoint; lower the learning rate or check the training data."
        )
