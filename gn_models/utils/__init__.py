"""Small utilities: artifact storage (fsio), digests, images, devices, records, registries."""
