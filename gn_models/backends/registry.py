"""Every diffusion pipeline family, by ``kind``.

Adding a family: its file in this package, plus one entry in ``BACKEND_CLASSES`` below (or
``register_backend(cls)`` from outside the package, before the Dagster definitions are built).
"""

from __future__ import annotations

from gn_models.backends.base import DiffusionBackend
from gn_models.backends.diffusers_backend import DiffusersBackend
from gn_models.backends.digits_backend import DigitsBackend
from gn_models.backends.dit_backend import DiTBackend
from gn_models.utils.registry import Registry

BACKEND_CLASSES: Registry[DiffusionBackend] = Registry(
    "diffusion backend", [DigitsBackend, DiffusersBackend, DiTBackend]
)
register_backend = BACKEND_CLASSES.register
backend_class = BACKEND_CLASSES.get
