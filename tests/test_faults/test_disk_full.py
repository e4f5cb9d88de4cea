"""A full disk while writing: a real small filesystem (tmpfs, mounted by the test; needs root,
as in CI) fills up during a shard write and a checkpoint publish. The error is clear, nothing
half-written is visible or left behind, the previous version stays current."""

import errno
import subprocess
import uuid

import pytest

from gn_models.data.noise_sequence_store import read_shard, write_shard
from gn_models.utils import versions
from gn_models.utils.digest import digest_arrays
from helpers.sequences import make_sequences


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB tmpfs mounted at a temporary folder."""
    mount = tmp_path / f"disk-{uuid.uuid4().hex[:6]}"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def test_disk_full_during_a_shard_write_keeps_the_previous_version(small_disk):
    store = str(small_disk / "noise_sequences.zarr")
    small = make_sequences(n=4, fill=1.0)
    write_shard(store, "shard-00", small)
    big = make_sequences(n=4000, fill=2.0)  # ~4 MB of noise and images: cannot fit in 1 MiB
    with pytest.raises(OSError, match=r"No space left while writing .*shard-00") as err:
        write_shard(store, "shard-00", big)
    assert err.value.errno == errno.ENOSPC and "previous version is intact" in str(err.value)
    assert digest_arrays(read_shard(store, "shard-00")) == digest_arrays(small.arrays())
    url = f"{store}/shard-00"
    assert versions.version_folders(url) == [versions.read_pointer(url)["version"]]
    write_shard(store, "shard-00", small)  # the freed space is usable again


def test_disk_full_during_a_checkpoint_publish_keeps_the_previous_one(small_disk):
    url = str(small_disk / "checkpoints" / "m")
    with versions.staged_folder(url) as stage:
        (stage.path / "weights.bin").write_bytes(b"1" * 1000)
    with pytest.raises(OSError, match="No space left"), versions.staged_folder(url) as stage:
        (stage.path / "weights.bin").write_bytes(b"2" * 2_000_000)
    assert (versions.localize(url) / "weights.bin").read_bytes() == b"1" * 1000
    assert versions.version_folders(url) == [versions.read_pointer(url)["version"]]
