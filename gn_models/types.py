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
            L = 77, D = 768. Hunyuan-DiT: L = 77, D = 1024 (its BERT's last states);
            PixArt-Sigma: L = 300, D = 4096 (T5's last states).
        attention_mask: (B, L) int64, 1 for real tokens, 0 for padding (all ones for CLIP,
            whose UNet attends to every token; the tokenizer's mask for BERT and T5).
        pooled: one vector per prompt, (B, D'): MiniLM's masked mean of the token states
            (D' = 384), SDXL's projected pooled output of its second text encoder
            (D' = 1280), SD's pooled CLIP output (D' = 768), Hunyuan-DiT's and PixArt-Sigma's
            masked mean of prompt_embeds.
        extra: conditioning of a second text encoder that only the diffusion model reads
            (the golden-noise models see prompt_embeds, attention_mask and pooled), by name,
            each tensor with B rows; empty for one-encoder backends. Hunyuan-DiT:
            "prompt_embeds_2" (B, 256, 2048) float32 mT5 states and "attention_mask_2"
            (B, 256) int64, the pipeline's ``prompt_embeds_2`` / ``prompt_attention_mask_2``.
    """

    prompt_embeds: torch.Tensor
    attention_mask: torch.Tensor
    pooled: torch.Tensor
    extra: dict[str, torch.Tensor] = field(default_factory=dict)

    def __len__(self) -> int:
        return self.prompt_embeds.shape[0]

    def to(self, device: torch.device | str) -> PromptEmbeds:
        return PromptEmbeds(
            *(t.to(device) for t in self.astuple()),
            {k: v.to(device) for k, v in self.extra.items()},
        )

    def float(self) -> PromptEmbeds:
        """prompt_embeds, pooled and the floating-point extra tensors as float32 (fp16 encoders
        feed float32 noise models); masks keep their dtype."""
        return PromptEmbeds(
            self.prompt_embeds.float(),
            self.attention_mask,
            self.pooled.float(),
            {k: v.float() if v.is_floating_point() else v for k, v in self.extra.items()},
        )

    def astuple(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(prompt_embeds, attention_mask, pooled): what the golden-noise models take."""
        return self.prompt_embeds, self.attention_mask, self.pooled

    def index(self, idx: torch.Tensor | slice | list[int]) -> PromptEmbeds:
        """Rows ``idx`` of every tensor (gather or repeat prompts to match a noise batch)."""
        return PromptEmbeds(
            *(t[idx] for t in self.astuple()), {k: v[idx] for k, v in self.extra.items()}
        )

    @staticmethod
    def cat(parts: list[PromptEmbeds]) -> PromptEmbeds:
        """The rows of ``parts`` one after another.

        Raises:
            ValueError: the parts carry different ``extra`` names.
        """
        names = {tuple(sorted(p.extra)) for p in parts}
        if len(names) > 1:
            raise ValueError(f"Cannot concatenate PromptEmbeds with different extras: {names}.")
        return PromptEmbeds(
            *(torch.cat(ts) for ts in zip(*(p.astuple() for p in parts), strict=False)),
            {k: torch.cat([p.extra[k] for p in parts]) for k in (names.pop() if names else ())},
        )


@dataclass
class PreparedModel:
    """What preparing a base model or a reward model reports (``prepare`` of a backend or a
    reward): numbers and strings for the UI, and named curves (x values, y values) to plot."""

    metadata: dict[str, float | int | str]
    curves: dict[str, tuple[list[float], list[float]]] = field(default_factory=dict)
