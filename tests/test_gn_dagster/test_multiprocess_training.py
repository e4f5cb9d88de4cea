"""`accelerate launch` of gn_dagster.train_cli in 2 CPU processes (DDP over gloo), for real.

The tiny digits graph is materialized up to the noise sequences (and the base model and
filter reward they need) into a temporary GN_STORAGE_ROOT with an on-disk sqlite instance in
a temporary DAGSTER_HOME; then the same training runs as a subprocess in 1 process and in 2.
The 2-process run must train as one DDP group (world size 2), publish one checkpoint version
(one writer), report one materialization to the instance, and reach a validation loss within
``LOSS_TOLERANCE`` of the 1-process run.

accelerate's ``--cpu`` flag starts a single process unless mpirun is set up (its simple
launcher), so the 2 CPU processes come from its torchrun launcher (``--multi_gpu``) with
GN_DEVICE=cpu; gn_dagster.train_cli then joins them in a gloo group.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("accelerate")

from dagster import AssetKey, AssetRecordsFilter, DagsterInstance

from gn_dagster.demo import register_source_shards, run_job
from gn_dagster.partitions import registered_shards
from gn_dagster.resources.prompt_source import PromptSourceResource
from gn_models.utils import versions
from helpers.graph import TINY, graph_definitions, write_tiny_prompts
from helpers.paths import REPO
from helpers.postgres import free_port

MODEL = "npnet"  # one-step, the cheapest; reward_every 0: chosen by validation MSE
CONFIG = {
    **TINY.ops[MODEL]["config"],
    "steps": 60,
    "eval_every": 10,
    "patience": 100,
    "reward_every": 0,
}
# Relative gap allowed between the best validation losses of the 2- and 1-process runs.
# batch_size is the global batch (each process weighs its share's loss), so both runs take the
# same steps on the same batches and differ only in float rounding (gloo's gradient average,
# 1 torch thread per process instead of 2), and npnet's loss draws no random numbers.
# Measured, seeds 0-4: gaps of at most 3e-6 relative; HEAD's loop (each process drawing a
# batch of batch_size, the last one padded) gave 0.5-15.5%, seed to seed the loss varies
# 0.021-0.031. 1e-3 leaves 300x room for rounding on other CPUs yet fails for any other
# training (a missed gradient sync, a rank training alone, changed batches).
LOSS_TOLERANCE = 1e-3
LAUNCH_TIMEOUT_S = 240


@pytest.fixture(scope="module")
def noise_graph(tmp_path_factory):
    """(root, instance, MODEL's checkpoint folder): the digits graph under ``root`` up to
    ``noise_sequences`` (every shard), recorded in the sqlite instance at
    ``root / "dagster_home"``."""
    root = tmp_path_factory.mktemp("ddp")
    train, evaluation = write_tiny_prompts(root)
    source = PromptSourceResource(train_path=str(train), eval_path=str(evaluation), num_shards=1)
    defs = graph_definitions(root, prompt_source=source)  # one shard: one collection run
    home = root / "dagster_home"
    home.mkdir()
    with DagsterInstance.local_temp(str(home)) as instance:
        register_source_shards(defs, instance)
        quiet = {"run_config": TINY, "log": lambda _: None}
        run_job(defs, instance, "observe_prompt_sources", **quiet)
        models = [AssetKey("base_model"), AssetKey("filter_reward_model")]
        run_job(defs, instance, "prepare_models", asset_selection=models, **quiet)
        for shard in registered_shards(instance):
            run_job(defs, instance, "collect_noise_sequences", partition=shard, **quiet)
        yield root, instance, Path(defs.resources["storage"].checkpoint_dir(MODEL))


def train(root: Path, processes: int, config: dict) -> subprocess.CompletedProcess:
    """Run ``gn_dagster.train_cli MODEL`` in ``processes`` CPU processes against the graph
    and instance under ``root``; return the finished process (output captured)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GN_", "DAGSTER_"))}
    env |= {
        "GN_PROFILE": "digits",
        "GN_DEVICE": "cpu",
        "GN_STORAGE_ROOT": str(root / "artifacts"),
        "GN_TRAIN_PROMPTS": str(root / "train.csv"),
        "GN_EVAL_PROMPTS": str(root / "eval.csv"),
        "GN_NUM_SHARDS": "1",
        "DAGSTER_HOME": str(root / "dagster_home"),
    }
    cli = ["-m", "gn_dagster.train_cli", MODEL, "--config", json.dumps(config)]
    if processes == 1:
        command = [sys.executable, *cli]
    else:
        accelerate = Path(sys.executable).with_name("accelerate")
        command = [
            str(accelerate), "launch", "--multi_gpu", "--num_processes", str(processes),
            "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
            "--main_process_port", str(free_port()), *cli,
        ]  # fmt: skip
    return subprocess.run(
        command, cwd=REPO, env=env, capture_output=True, text=True, timeout=LAUNCH_TIMEOUT_S
    )


def materializations(instance: DagsterInstance) -> list:
    """The materializations of MODEL, newest first."""
    records = instance.fetch_materializations(AssetRecordsFilter(AssetKey(MODEL)), limit=100)
    return [record.asset_materialization for record in records.records]


def test_two_cpu_processes_train_one_checkpoint_like_one_process(noise_graph):
    root, instance, checkpoint = noise_graph
    start = time.perf_counter()

    single = train(root, 1, CONFIG)
    assert single.returncode == 0, single.stderr[-3000:]
    one = materializations(instance)
    assert len(one) == 1 and one[0].metadata["num_processes"].value == 1
    assert len(versions.version_folders(checkpoint)) == 1

    ddp = train(root, 2, CONFIG)
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    print(f"1 + 2 processes: {time.perf_counter() - start:.0f} s")
    assert ddp.stdout.count(f"{MODEL}: checkpoint at") == 1  # only the main process reports

    # One writer: one new version folder, published, the 1-process one kept as previous.
    folders = versions.version_folders(checkpoint)
    assert len(folders) == 2, folders
    pointer = versions.read_pointer(checkpoint)
    first = one[0].metadata["storage_version"].value
    assert pointer == {"version": (set(folders) - {first}).pop(), "previous": [first]}

    # One materialization of the 2-process run, with the asset's metadata and world size 2.
    both = materializations(instance)
    assert len(both) == 2
    new = both[0]
    assert "(2 process" in new.description
    meta = {key: value.value for key, value in new.metadata.items()}
    assert meta["num_processes"] == 2
    assert meta["storage_version"] == pointer["version"]
    assert meta["model"] == MODEL and meta["train_sequences"] > 0
    assert new.tags["dagster/data_version"]

    # Same batches, same steps: the validation loss matches the 1-process run's.
    single_loss = one[0].metadata["best_val_loss"].value
    ddp_loss = meta["best_val_loss"]
    print(f"best validation loss: 1 process {single_loss:.6f}, 2 processes {ddp_loss:.6f}")
    assert meta["best_val_loss"] < meta["identity_val_loss"]  # it trained
    assert abs(ddp_loss - single_loss) <= LOSS_TOLERANCE * single_loss
