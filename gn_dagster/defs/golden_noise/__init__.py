"""One trained checkpoint per registered golden-noise model, and its check."""
