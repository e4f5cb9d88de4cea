"""The base diffusion model and the filter and judge reward models."""
