"""The graph, one folder per domain, loaded by ``dagster.load_from_defs_folder``."""
