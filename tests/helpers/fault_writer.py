"""A writer process for fault-injection tests: it writes a noise shard or a checkpoint and,
at a chosen point of the write, announces it (creates the ``--ready`` file) and waits to be
killed. Run as ``python -m helpers.fault_writer`` (tests/ on the path).

Points: ``arrays`` (some of a shard's arrays written), ``weights`` (a checkpoint's weights
written, its config not yet), ``pointer`` (the new version complete, the pointer not yet
written: where the old design moved folders), ``pointer-replace`` (local only: the new
pointer written to its temporary file, not yet renamed), ``prune`` (the pointer written,
older versions not yet pruned), ``none`` (run to completion).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import torch

from gn_models.data import noise_sequence_store
from gn_models.golden_noise import checkpoint
from gn_models.golden_noise.film_noise_net import FiLMNoiseNet, FiLMNoiseNetConfig
from gn_models.utils import versions
from helpers.sequences import make_sequences


def hang_at(ready: Path):
    """Announce the point, then wait to be killed."""
    ready.write_text(str(os.getpid()))
    time.sleep(600)
    raise SystemExit("not killed")


def after(function, ready: Path, calls: int = 1):
    """``function`` that hangs after its ``calls``-th call returns."""
    count = 0

    def wrapped(*args, **kwargs):
        nonlocal count
        result = function(*args, **kwargs)
        count += 1
        if count == calls:
            hang_at(ready)
        return result

    return wrapped


def before(function, ready: Path):
    def wrapped(*args, **kwargs):
        hang_at(ready)

    return wrapped


def install(point: str, ready: Path) -> None:
    if point == "arrays":
        noise_sequence_store._write_array = after(noise_sequence_store._write_array, ready, 3)
    elif point == "weights":
        checkpoint.save_file = after(checkpoint.save_file, ready)
    elif point == "pointer":
        versions._write_pointer = before(versions._write_pointer, ready)
    elif point == "pointer-replace":
        os.replace = before(os.replace, ready)  # the pointer is the only file renamed
    elif point == "prune":
        versions._prune = before(versions._prune, ready)


def tiny_model(seed: int) -> FiLMNoiseNet:
    torch.manual_seed(seed)
    model = FiLMNoiseNet(FiLMNoiseNetConfig(channels=1, embed_dim=8, hidden=8, num_blocks=1))
    torch.nn.init.normal_(model.conv_out.weight)
    return model


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=["shard", "checkpoint"])
    parser.add_argument("url", help="the store (shard) or the checkpoint folder")
    parser.add_argument("--shard", default="shard-00")
    parser.add_argument("--fill", type=float, default=0.0, help="shard content / model seed")
    parser.add_argument("--point", default="none")
    parser.add_argument("--ready", type=Path, default=Path(os.devnull))
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--go", type=Path, help="start writing once this file exists")
    args = parser.parse_args()
    install(args.point, args.ready)
    if args.go is not None:  # announce being ready, write when the test says go
        args.ready.write_text(str(os.getpid()))
        while not args.go.exists():
            time.sleep(0.01)
    for _ in range(args.repeat):
        if args.what == "shard":
            data = make_sequences(n=40, fill=args.fill)
            noise_sequence_store.write_shard(args.url, args.shard, data, chunk_size=8)
        else:
            with versions.staged_folder(args.url) as stage:
                tiny_model(int(args.fill)).save(stage.path)


if __name__ == "__main__":
    main()
