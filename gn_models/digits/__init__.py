"""The digits profile: sklearn's handwritten digits, a small text-conditioned UNet, MiniLM
prompts and a digit classifier as reward. CPU-sized; the same code runs on CUDA."""
