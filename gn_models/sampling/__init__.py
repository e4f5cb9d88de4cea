"""Samplers over any backend: DDIM and its inversion (``ddim``), re-denoise (``re_denoise``)."""
