"""The noise-sequence dataset, collected per prompt shard, and its checks."""
