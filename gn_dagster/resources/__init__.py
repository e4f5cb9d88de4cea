"""Resources: where artifacts live (``storage``), the prompt sources (``prompt_source``), the
diffusion backend (``diffusion``), the filter and judge rewards (``filter_reward``,
``judge_reward``) and the device they run on (``compute``). Resources read; they never write
to the instance."""
