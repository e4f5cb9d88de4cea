"""Golden noise for text-to-image diffusion (NPNet, arXiv:2411.09502): pure PyTorch and
diffusers, no Dagster. Packages by what a contributor adds: ``backends``, ``sampling``,
``golden_noise``, ``rewards``, ``data``, ``evaluation``, ``utils``; shared types in ``types``."""
