"""The golden-noise Dagster graph (``gn_dagster.definitions``)."""

import warnings

from dagster import BetaWarning, PreviewWarning

# Chosen knowingly, not news to a user: observable_source_asset (beta) observes the prompt
# sources, and partitioned asset checks (preview) check each noise shard.
warnings.filterwarnings(
    "ignore", ".*(observable_source_asset|DataVersionsByPartition)", BetaWarning
)
warnings.filterwarnings("ignore", ".*partitions_def on an AssetCheckSpec", PreviewWarning)
