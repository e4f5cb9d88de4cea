"""The released NPNet checkpoints (arXiv:2411.09502, the authors' ``.pth`` files) as our NPNet.

The authors released one NPNet per model family. Each is a ``.pth`` dict with the keys
``unet_svd``, ``unet_embedding`` (timm's Swin-T under ``swin.``), ``embeeding`` (sic; the
AdaGroupNorm text injection), ``alpha`` and ``beta``. Their shapes follow the family:

==================  =====================  ==================  ================================
family              latents x_T            prompt_embeds       pipelines it serves
==================  =====================  ==================  ================================
``sdxl``            (4, 128, 128), 1024px  (77, 2048)          SDXL base; also SDXL-Lightning,
                                                               LCM and PCM SDXL (same encoders)
``dreamshaper``     (4, 128, 128), 1024px  (77, 2048)          DreamShaper-XL v2 turbo
``hunyuan-dit``     (4, 128, 128), 1024px  (77, 1024), BERT    Hunyuan-DiT v1.2
==================  =====================  ==================  ================================

The reference code's names (``SDXL``, ``DreamShaper``, ``DiT``) are accepted too. A file is
read with ``torch.load(weights_only=True)``: tensors only, no code runs. A file saved with an
older timm holds Swin-T buffers that current timm no longer saves (``attn_mask``,
``relative_position_index``) and, before timm 0.9, each stage's patch merging under the
previous stage's index; timm's own ``checkpoint_filter_fn`` converts them, so both load.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import torch

from gn_models.golden_noise.npnet import NPNet, NPNetConfig

RELEASED_FAMILIES: dict[str, NPNetConfig] = {
    "sdxl": NPNetConfig.published(),
    "dreamshaper": NPNetConfig.published(),
    "hunyuan-dit": NPNetConfig.published(embed_dim=1024),
}
REFERENCE_NAMES = {"dit": "hunyuan-dit"}  # the reference code's --pipeline names, lowercased
OFFICIAL_KEYS = ("unet_svd", "unet_embedding", "alpha", "beta")
UNUSED_OFFICIAL = ("bn.",)  # the reference SVD branch holds an unused BatchNorm


def released_config(family: str) -> NPNetConfig:
    """The NPNet architecture of a released family (table in the module docstring).

    Raises:
        ValueError: an unknown family (the message lists the known ones).
    """
    name = family.lower().replace("_", "-")
    name = REFERENCE_NAMES.get(name, name)
    if name not in RELEASED_FAMILIES:
        raise ValueError(
            f"Unknown released NPNet family {family!r}: use one of {sorted(RELEASED_FAMILIES)} "
            "(the pipeline family the .pth file was trained for)."
        )
    return RELEASED_FAMILIES[name]


def load_released_npnet(path: str | Path, family: str, device: str | torch.device = "cpu"):
    """Load a released NPNet ``.pth`` file of ``family`` ("sdxl", "dreamshaper",
    "hunyuan-dit") as an ``NPNet`` in eval mode, float32, on ``device``.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: an unknown family; a file that is not a plain tensor dict (refused by
            ``weights_only``) or not an NPNet; or shapes of another family (the message names
            the tensor and both shapes).
    """
    config = released_config(family)
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"No NPNet checkpoint at {path}. Download the released file for {family!r} from "
            "the authors' page (github.com/xie-lab-ml/Golden-Noise-for-Diffusion-Models) and "
            "pass its path."
        )
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError) as err:
        raise ValueError(
            f"{path} is not a released NPNet checkpoint readable as plain tensors "
            f"(torch.load with weights_only=True refused it: {err})."
        ) from err
    if not isinstance(checkpoint, dict):
        raise ValueError(f"{path} holds a {type(checkpoint).__name__}, not an NPNet dict.")
    return load_official_npnet(checkpoint, config).to(device)


def load_official_npnet(checkpoint: dict, config: NPNetConfig) -> NPNet:
    """Build an NPNet from a released .pth dict (keys unet_svd, unet_embedding,
    embeeding (sic) or embedding, alpha, beta), e.g. ``torch.load(path)`` of the SDXL file.

    Args:
        checkpoint: the loaded dict.
        config: shapes of the target (``released_config(family)``).

    Raises:
        KeyError: a top-level key is missing.
        ValueError: a tensor shape differs from ``config`` (names the tensor and both shapes).
    """
    text_key = next((k for k in ("embeeding", "embedding") if k in checkpoint), None)
    missing = [k for k in OFFICIAL_KEYS if k not in checkpoint] + (
        [] if text_key else ["embeeding"]
    )
    if missing:
        raise KeyError(
            f"Not an NPNet checkpoint: missing keys {missing} (found {sorted(checkpoint)})."
        )
    model = NPNet(config, pretrained_residual=False)
    state = {
        f"unet_svd.{k}": v
        for k, v in checkpoint["unet_svd"].items()
        if not k.startswith(UNUSED_OFFICIAL)
    }
    state |= {
        f"unet_embedding.{k}": v
        for k, v in _residual_state(checkpoint["unet_embedding"], model).items()
    }
    state |= {f"text_embedding.{k}": v for k, v in checkpoint[text_key].items()}
    state |= {
        "alpha": torch.as_tensor(checkpoint["alpha"]).reshape(()),
        "beta": torch.as_tensor(checkpoint["beta"]).reshape(()),
    }
    expected = model.state_dict()
    for name, value in state.items():
        if name in expected and expected[name].shape != value.shape:
            raise ValueError(
                f"NPNet checkpoint tensor {name} has shape {tuple(value.shape)}, but the config "
                f"{config} needs {tuple(expected[name].shape)}. Match the latent size and "
                "prompt embedding width (L x D) of the checkpoint's model family."
            )
    model.load_state_dict(state)
    return model.eval()


def _residual_state(residual: dict, model: NPNet) -> dict:
    """The residual branch's tensors with a Swin-T's keys converted by timm (old timm files:
    dropped buffers, moved patch merging); a conv residual's unchanged."""
    if model.config.residual != "swin_t":
        return residual
    from timm.models.swin_transformer import checkpoint_filter_fn

    swin = {k.removeprefix("swin."): v for k, v in residual.items() if k.startswith("swin.")}
    rest = {k: v for k, v in residual.items() if not k.startswith("swin.")}
    swin = checkpoint_filter_fn(swin, model.unet_embedding.swin)
    return rest | {f"swin.{k}": v for k, v in swin.items()}
