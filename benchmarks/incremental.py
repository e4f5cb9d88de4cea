"""Incremental rematerialization on the digits profile: what reruns, as a fraction of a full run.

Deals the packaged digits training prompts round-robin into a directory of S prompt files
(one shard each), materializes the whole graph into a temporary Dagster instance (observe,
prepare models, collect every shard, train and evaluate: the full run), then drives the prompt
sensor and the automation conditions in process (``gn_dagster.local_automation``, the same
code the daemon evaluates under ``dagster dev``) through three cases:

  (a) no change: a sensor tick and automation ticks now and at the next nightly cron tick;
  (b) one prompt edited in one file: a sensor tick, an automation tick now, then one at the
      nightly cron tick (where the models retrain);
  (c) one prompt added in a new file, i.e. a new shard: the same ticks.

For each it prints the runs executed and the work as a fraction of the full run: UNet rows
(latents evaluated; a CFG pass counts its cond and uncond rows), UNet calls (batched forward
passes: a shard of one prompt costs as many calls as a full one) and run wall time, of noise
collection ("data work", the noise_sequences runs) and of everything (training and evaluation
included). Targets: (a) 0; (b) data work <= 1/S.

Usage: python benchmarks/incremental.py [--shards 8] [--base-steps 150] [--train-steps 100]
"""

import argparse
import csv
import datetime
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # NPNet's "auto" residual looks for local Swin-T

from dagster import AssetKey, DagsterInstance, ExecuteInProcessResult, RunConfig

from gn_dagster.definitions import build_definitions
from gn_dagster.demo import materialize_all
from gn_dagster.local_automation import LocalAutomation, clock_between_cron_ticks, next_cron_tick
from gn_dagster.resources.models import DiffusionResource
from gn_dagster.resources.prompt_source import packaged_prompt_file
from gn_dagster.settings import Settings
from gn_models.data.shards import read_shards
from gn_models.golden_noise.registry import MODEL_CLASSES

NOISE_PAIRS = AssetKey("noise_sequences")
UNET_KEYS = ("unet_calls", "unet_rows")


@dataclass
class Work:
    """Runs, UNet work (calls: batched forward passes; rows: latents evaluated) and run wall
    seconds, for noise collection (the noise_sequences runs) and in total."""

    runs: int = 0
    data_calls: int = 0
    data_rows: int = 0
    data_seconds: float = 0.0
    calls: int = 0
    rows: int = 0
    seconds: float = 0.0

    @classmethod
    def of(cls, runs: list[ExecuteInProcessResult], instance: DagsterInstance) -> "Work":
        work = cls(runs=len(runs))
        for run in runs:
            stats = instance.get_run_stats(run.run_id)
            seconds = stats.end_time - stats.start_time
            work.seconds += seconds
            for event in run.get_asset_materialization_events():
                meta = event.materialization.metadata
                calls, rows = (int(meta[k].value) if k in meta else 0 for k in UNET_KEYS)
                work.calls, work.rows = work.calls + calls, work.rows + rows
                if event.asset_key == NOISE_PAIRS:
                    work.data_calls, work.data_rows = work.data_calls + calls, work.data_rows + rows
                    work.data_seconds += seconds
        return work


def make_corpus(folder: Path, shards: int) -> list[Path]:
    """Deal the packaged training prompts round-robin into ``shards`` CSV files of equal size
    (the remainder of 300 / S is left out), so that one shard is exactly 1/S of the data."""
    with open(packaged_prompt_file("digits_train_prompts.csv"), newline="") as f:
        header, *rows = list(csv.reader(f))
    rows = rows[: len(rows) // shards * shards]
    folder.mkdir(parents=True)
    files = [folder / f"part-{i:02d}.csv" for i in range(shards)]
    for i, path in enumerate(files):
        with open(path, "w", newline="") as f:
            csv.writer(f).writerows([header, *rows[i::shards]])
    return files


def run_config(args) -> RunConfig:
    training = {"steps": args.train_steps, "eval_every": max(10, args.train_steps // 4)}
    evaluation = {"seeds_per_prompt": 2, "cfg_scales": [5.5, 1.0], "step_counts": [10]}
    return RunConfig(
        ops={
            **{name: {"config": training} for name in MODEL_CLASSES},
            "eval_images": {"config": evaluation},
        }
    )


def ticks(auto: LocalAutomation, now: datetime.datetime) -> tuple[list, list, datetime.datetime]:
    """A sensor tick and an automation tick at ``now``, then an automation tick just after
    the next cron tick. Returns the runs of each, and the time of the last tick."""
    first = len(auto.runs)
    auto.sensor_tick()
    auto.automation_tick(now)
    immediate = auto.runs[first:]
    tick = next_cron_tick(now) + datetime.timedelta(minutes=1)
    auto.automation_tick(tick)
    return immediate, auto.runs[first + len(immediate) :], tick


def row(name: str, work: Work, full: Work) -> str:
    def cell(field: str, unit: str = "") -> str:
        value, total = getattr(work, field), getattr(full, field)
        shown = f"{value:.1f}" if isinstance(value, float) else f"{value}"
        return f"{shown}{unit} ({value / total:.3f})" if total else shown

    cells = [cell("data_rows"), cell("data_calls"), cell("data_seconds", " s")]
    cells += [cell("rows"), cell("seconds", " s")]
    return f"| {name} | {work.runs} | " + " | ".join(cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shards", type=int, default=8, help="S, prompt files = shards")
    parser.add_argument("--base-steps", type=int, default=150, help="base model train steps")
    parser.add_argument("--train-steps", type=int, default=100, help="steps per noise model")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="gn-incremental-"))
    files = make_corpus(root / "corpus", args.shards)
    settings = Settings(
        storage_root=str(root / "artifacts"),
        train_prompts=str(root / "corpus"),
        eval_prompts=packaged_prompt_file("digits_eval_prompts.csv"),
        device="cpu",
    )
    base_model = DiffusionResource(kind="digits", settings={"steps": args.base_steps})
    defs = build_definitions(settings, diffusion=base_model)
    config = run_config(args)
    (root / "dagster_home").mkdir()
    with DagsterInstance.local_temp(str(root / "dagster_home")) as instance:
        start = time.perf_counter()
        full = Work.of(materialize_all(defs, instance, config, log=lambda _: None), instance)
        seconds = time.perf_counter() - start
        size = len(read_shards(root / "corpus", args.shards)[files[0].stem])
        print(f"full run: {full.runs} runs in {seconds:.0f} s; S = {args.shards} shards of {size}")
        auto = LocalAutomation(defs, instance, config)
        now = clock_between_cron_ticks(datetime.datetime.now(datetime.UTC))
        auto.automation_tick(now)  # the daemon's first tick: it starts its cursor
        lines = [
            "| case | runs | data: UNet rows (frac) | data: UNet calls (frac) | data: wall (frac) "
            "| all: UNet rows (frac) | all: wall (frac) |",
            "|---|---|---|---|---|---|---|",
        ]
        cases = [("(a) no change", lambda: None)]
        cases.append(("(b) one prompt edited", lambda: edit_one_prompt(files[0])))
        cases.append(("(c) one prompt in a new shard", lambda: add_shard(root / "corpus")))
        for name, change in cases:
            change()
            immediate, nightly, now = ticks(auto, now + datetime.timedelta(seconds=1))
            lines.append(row(f"{name}: now", Work.of(immediate, instance), full))
            lines.append(row(f"{name}: at the cron tick", Work.of(nightly, instance), full))
        lines.append(row("full run", full, full))
    print("\n".join(lines))
    print(f"\nTargets: (a) 0 runs; (b) data work <= 1/S = {1 / args.shards:.3f}.")


def edit_one_prompt(path: Path) -> None:
    """Reword the first prompt of ``path``, keeping its label (same shard: the same file)."""
    lines = path.read_text().splitlines()
    lines[1] = "a carefully written " + lines[1].removeprefix("a ")
    path.write_text("\n".join(lines) + "\n")


def add_shard(folder: Path) -> None:
    (folder / "added.csv").write_text("prompt,label\na handwritten five with a long tail,5\n")


if __name__ == "__main__":
    main()
