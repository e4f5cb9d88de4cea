"""Prompt sources, the sharded training prompts and the evaluation prompts; the prompt sensor."""
