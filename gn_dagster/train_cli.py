"""Train one golden-noise model outside a Dagster run, e.g. on several GPUs with accelerate:

    accelerate launch --config_file deploy/accelerate/multi_gpu.yaml \\
        -m gn_dagster.train_cli npnet --config '{"steps": 20000, "batch_size": 64}'

Reads the same inputs as the model asset (the noise-pair store and base model under
GN_STORAGE_ROOT, the profile from GN_PROFILE and its variables), trains with DDP across the
launched processes, writes the same checkpoint from the main process only, and reports the
materialization (with the asset's metadata) to the Dagster instance at DAGSTER_HOME, so the
UI's lineage and staleness see the new checkpoint. Run it single-process with plain
``python -m gn_dagster.train_cli <model>``.
"""

import argparse
import json
import sys

from accelerate import PartialState
from dagster import AssetMaterialization, DagsterInstance, Definitions

from gn_dagster.assets.golden_models import MODEL_SPECS, train_golden_model
from gn_dagster.partitions import registered_shards


def main(
    argv: list[str] | None = None,
    defs: Definitions | None = None,
    instance: DagsterInstance | None = None,
) -> int:
    """Parse ``argv``, train, save, report. ``defs`` / ``instance`` default to the ones the
    environment selects (gn_dagster.definitions.defs, DAGSTER_HOME).

    Raises:
        SystemExit: an unknown model name or config key (argparse / pydantic message).
    """
    parser = argparse.ArgumentParser(prog="python -m gn_dagster.train_cli")
    parser.add_argument("model", choices=sorted(MODEL_SPECS))
    parser.add_argument("--config", default="{}", help="JSON of the asset's config fields")
    args = parser.parse_args(argv)
    spec = MODEL_SPECS[args.model]
    try:
        values = json.loads(args.config)
        unknown = sorted(set(values) - set(spec.config_class.model_fields))
        if unknown:
            raise ValueError(
                f"unknown keys {unknown}; known: {sorted(spec.config_class.model_fields)}"
            )
        config = spec.config_class(**values)
    except (ValueError, TypeError) as err:
        parser.error(f"--config for {args.model}: {err}")
    if defs is None:
        from gn_dagster.definitions import defs
    resources = defs.resources
    instance = instance or DagsterInstance.get()
    result = train_golden_model(
        spec, config, resources["storage"], resources["profile"], registered_shards(instance)
    )
    if PartialState().is_main_process:
        instance.report_runless_asset_event(
            AssetMaterialization(
                asset_key=args.model,
                description=f"trained by gn_dagster.train_cli ({PartialState().num_processes} "
                "process(es))",
                metadata=result.metadata,
                tags={"dagster/data_version": result.data_version.value},
            )
        )
        print(f"{args.model}: checkpoint at {resources['storage'].checkpoint_dir(args.model)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
