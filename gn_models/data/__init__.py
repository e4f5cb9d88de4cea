"""Data: prompt sources (files, Hugging Face datasets) and their shards, the digits data set,
the noise-sequence dataset (collection, Zarr store, training data)."""
