"""Image batches as rewards take them: (B, C, H, W) float in [0, 1] to RGB."""

from __future__ import annotations

import torch


def to_rgb(images: torch.Tensor) -> torch.Tensor:
    """RGB float32 images from L, LA, RGB or RGBA ones (alpha dropped, as PIL's convert).

    Args:
        images: (B, C, H, W) float in [0, 1], C in {1, 2, 3, 4}.

    Returns:
        (B, 3, H, W) float32 on the images' device.

    Raises:
        ValueError: not 4-D, not floating point, or an unsupported channel count.
    """
    if images.ndim != 4:
        raise ValueError(f"Expected images of shape (B, C, H, W); got {tuple(images.shape)}.")
    if not images.is_floating_point():
        raise ValueError(
            f"Expected float images in [0, 1]; got {images.dtype}. Divide uint8 images by 255."
        )
    channels = images.shape[1]
    if channels not in (1, 2, 3, 4):
        raise ValueError(f"Expected 1 (L), 2 (LA), 3 (RGB) or 4 (RGBA) channels; got {channels}.")
    x = images.float()
    if channels in (2, 4):
        x = x[:, :-1]  # drop alpha
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    return x
