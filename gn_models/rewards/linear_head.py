"""The MLP head of the LAION aesthetic predictor v2 and of ImageReward (the same layout).

Linear(D, 1024) Dropout(0.2) Linear(1024, 128) Dropout(0.2) Linear(128, 64) Dropout(0.1)
Linear(64, 16) Linear(16, 1), no activations: in eval mode one affine map. The released
state dicts name the layers ``layers.{0,2,4,6,7}.{weight,bias}``. Sources: the aesthetic
predictor (github.com/christophschuhmann/improved-aesthetic-predictor, ``simple_inference.py``)
and ImageReward (github.com/THUDM/ImageReward, ``ImageReward/ImageReward.py``, class MLP).
"""

from __future__ import annotations

import torch
from torch import nn


class LinearHead(nn.Module):
    """The head: (B, input_size) -> (B, 1) float; dropout only in training."""

    def __init__(self, input_size: int = 768):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(input_size, 1024),
            nn.Dropout(0.2),
            nn.Linear(1024, 128),
            nn.Dropout(0.2),
            nn.Linear(128, 64),
            nn.Dropout(0.1),
            nn.Linear(64, 16),
            nn.Linear(16, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, input_size) -> (B, 1)."""
        return self.layers(x)

    def affine(self) -> tuple[torch.Tensor, float]:
        """The MLP as one affine map, in float64: (w of shape (input_size,), b) with
        MLP(x) = w . x + b (eval mode)."""
        linears = [m for m in self.layers if isinstance(m, nn.Linear)]
        weight = torch.eye(linears[0].in_features, dtype=torch.float64)
        bias = torch.zeros(linears[0].in_features, dtype=torch.float64)
        for linear in linears:
            w, b = linear.weight.detach().double().cpu(), linear.bias.detach().double().cpu()
            weight, bias = w @ weight, w @ bias + b
        return weight[0], float(bias[0])
