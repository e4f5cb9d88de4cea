"""Reward models (the digit classifier, HPSv2) behind ``base.RewardModel``; ``registry`` lists
them."""
