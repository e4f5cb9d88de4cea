"""Types shared by every part of gn_models: a prompt and its embeddings.

Neutral on purpose: backends, samplers, golden-noise models, rewards and data all use them, and
this module imports nothing of gn_models, so it can never close an import cycle.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass(frozen=True)
class Prompt:
    """One normalised prompt.

    Attributes:
        text: whitespace-normalised prompt text.
        label: optional integer class label (the digit, on the digits profile), else None.
    """

    text: str
    label: int | None = None


@dataclass
class PromptEmbeds:
    """Text conditioning of a batch of B prompts, as every backend's encoder gives it.

    Attributes:
        prompt_embeds: token hidden states (B, L, D), float32 (or the backend's dtype, e.g.
            float16 for SDXL on CUDA). MiniLM (digits): L = 16, D = 384. SDXL: L = 77,
            D = 2048 (both CLIP text encoders' penultimate states concatenated); SD 1.5:
            L = 77, D = 768.
        attention_mask: (B, L) int64, 1 for real tokens, 0 for padding (all ones for CLIP,
            whose UNet attends to every token).
        pooled: one vector per prompt, (B, D'): MiniLM's masked mean of the token states
            (D' = 384), SDXL's projected pooled output of its second text encoder
            (D' = 1280), SD's pooled CLIP output (D' = 768).
    """

    prompt_embeds: torch.Tensor
    attention_mask: torch.Tensor
    pooled: torch.Tensor

    def __len__(self) -> int:
        return self.prompt_embeds.shape[0]

    def to(self, device: torch.device | str) -> PromptEmbeds:
        return PromptEmbeds(*(t.to(device) for t in self.astuple()))

    def float(self) -> PromptEmbeds:
        """prompt_embeds and pooled as float32 (fp16 encoders feed float32 noise models)."""
        return PromptEmbeds(self.prompt_embeds.float(), self.attention_mask, self.pooled.float())

    def astuple(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.prompt_embeds, self.attention_mask, self.pooled

    def index(self, idx: torch.Tensor | slice | list[int]) -> PromptEmbeds:
        """Rows ``idx`` of every tensor (gather or repeat prompts to match a noise batch)."""
        return PromptEmbeds(*(t[idx] for t in self.astuple()))

    @staticmethod
    def cat(parts: list[PromptEmbeds]) -> PromptEmbeds:
        return PromptEmbeds(
            *(torch.cat(ts) for ts in zip(*(p.astuple() for p in parts), strict=False))
        )


@dataclass
class PreparedModel:
    """What preparing a base model or a reward model reports (``prepare`` of a backend or a
    reward): numbers and strings for the UI, and named curves (x values, y values) to plot."""

    metadata: dict[str, float | int | str]
    curves: dict[str, tuple[list[float], list[float]]] = field(default_factory=dict)
