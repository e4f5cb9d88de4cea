"""Diffusion pipeline families behind one interface (``base.DiffusionBackend``): the digits
model this project trains, and diffusers SD/SDXL pipelines. ``registry`` lists them."""
