"""Evaluation images, paired scores, the comparison, and the score check."""
