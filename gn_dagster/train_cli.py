"""Train one golden-noise model outside a Dagster run, e.g. on several GPUs with accelerate:

    accelerate launch --config_file deploy/accelerate/multi_gpu.yaml \\
        -m gn_dagster.train_cli npnet --config '{"steps": 20000, "batch_size": 64}'

or in N CPU processes (gloo) with GN_DEVICE=cpu: ``accelerate launch --multi_gpu
--num_processes N -m gn_dagster.train_cli ...`` (accelerate's torchrun launcher; its
``--cpu`` flag starts a single process unless mpirun is set up).

Reads the same inputs as the model asset (the noise-sequence store and base model under
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

from gn_dagster.defs.golden_noise.assets import asset_config_class, train_checkpoint
from gn_dagster.partitions import registered_shards
from gn_models.golden_noise.registry import MODEL_CLASSES
from gn_models.utils.training import use_cpu


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
    parser.add_argument("model", choices=sorted(MODEL_CLASSES))
    parser.add_argument("--config", default="{}", help="JSON of the asset's config fields")
    args = parser.parse_args(argv)
    cls = MODEL_CLASSES.get(args.model)
    asset_config = asset_config_class(cls)
    try:
        values = json.loads(args.config)
        unknown = sorted(set(values) - set(asset_config.model_fields))
        if unknown:
            raise ValueError(f"unknown keys {unknown}; known: {sorted(asset_config.model_fields)}")
        config = asset_config(**values)
    except (ValueError, TypeError) as err:
        parser.error(f"--config for {args.model}: {err}")
    if defs is None:
        from gn_dagster.definitions import build_definitions

        defs = build_definitions()
    resources = defs.resources
    # Before anything builds the distributed state: on the CPU, join the launched processes.
    state = PartialState(cpu=use_cpu(resources["compute"].device))
    instance = instance or DagsterInstance.get()
    result = train_checkpoint(
        cls,
        config,
        resources["storage"],
        resources["diffusion"],
        resources["filter_reward"],
        resources["compute"].device,
        registered_shards(instance),
    )
    if state.is_main_process:
        instance.report_runless_asset_event(
            AssetMaterialization(
                asset_key=args.model,
                description=f"trained by gn_dagster.train_cli ({state.num_processes} process(es))",
                metadata=result.metadata,
                tags={"dagster/data_version": result.data_version.value},
            )
        )
        print(f"{args.model}: checkpoint at {resources['storage'].checkpoint_dir(args.model)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
