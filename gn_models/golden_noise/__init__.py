"""Golden-noise models (NPNet, FiLMNoiseNet, NoiseTransformer, NoiseGRU), their training and
checkpoints. ``registry`` lists them; ``base`` says how to add one."""
