"""Evaluation: images per method, paired scores and win rates, quality checks."""
