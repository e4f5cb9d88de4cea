"""Image files and previews: PNGs of uint8 (C, H, W) arrays and a standard-vs-golden grid."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
import torch
from PIL import Image


def to_pil(image: np.ndarray, scale: int = 1) -> Image.Image:
    """uint8 (C, H, W) with C in {1, 3, 4} -> PIL image, upscaled ``scale`` x (nearest)."""
    hwc = np.ascontiguousarray(image.transpose(1, 2, 0))
    pil = Image.fromarray(hwc[..., 0] if hwc.shape[-1] == 1 else hwc)
    if scale != 1:
        pil = pil.resize((pil.width * scale, pil.height * scale), Image.NEAREST)
    return pil


def save_png(image: np.ndarray, path: str | Path, scale: int = 1) -> None:
    """Write a uint8 (C, H, W) image as PNG (parent folders created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    to_pil(image, scale).save(path)


def image_grid(rows: list[np.ndarray], tile: int = 48, pad: int = 2) -> Image.Image:
    """Rows of images, e.g. standard noise x_T on top and each golden-noise method below.

    Args:
        rows: uint8 arrays (N, C, H, W) of equal N; column i of every row shares prompt and seed.
        tile: longest side of each tile in pixels: small images are upscaled (nearest, so 8x8
            digits stay crisp), large ones downscaled (Lanczos), keeping the preview small.
    """
    tiles = [[_thumbnail(to_pil(img).convert("RGB"), tile) for img in row] for row in rows]
    w, h = tiles[0][0].size
    grid = Image.new("RGB", (len(rows[0]) * (w + pad) + pad, len(rows) * (h + pad) + pad), "white")
    for r, row in enumerate(tiles):
        for c, tile in enumerate(row):
            grid.paste(tile, (pad + c * (w + pad), pad + r * (h + pad)))
    return grid


def _thumbnail(image: Image.Image, tile: int) -> Image.Image:
    factor = tile / max(image.size)
    size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
    return image.resize(size, Image.NEAREST if factor >= 1 else Image.LANCZOS)


def markdown_image(image: Image.Image, alt: str) -> str:
    """A markdown image with the PNG inlined as a data URI (Dagster metadata has no image type)."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return f"![{alt}](data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()})"


def load_png(path: str | Path) -> np.ndarray:
    """Read a PNG as uint8 (C, H, W); grayscale gives C = 1, RGBA is converted to RGB."""
    with Image.open(path) as pil:
        if pil.mode not in ("L", "RGB"):
            pil = pil.convert("RGB")
        array = np.asarray(pil)
    return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """Images (B, C, H, W) float in [0, 1] -> uint8 numpy, same layout."""
    return (images.clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()
