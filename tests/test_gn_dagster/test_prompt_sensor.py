"""The prompt sensor against a real instance: changed, added and deleted shards of a directory
source; the cursor, run keys and observations; a file that cannot be read."""

import os

import pytest
from dagster import DagsterInstance, SensorResult, SkipReason, build_sensor_context, materialize

from gn_dagster.defs.prompts.assets import prompts
from gn_dagster.defs.prompts.sensor import PromptCursor, make_prompt_sensor
from gn_dagster.partitions import registered_shards
from gn_dagster.prompt_tables import read_prompts_frame
from gn_dagster.resources.prompt_source import PromptSourceResource
from gn_dagster.resources.storage import StorageResource

prompt_sensor = make_prompt_sensor()


class Watch:
    """A prompt directory, an instance, and the sensor's cursor between ticks."""

    def __init__(self, tmp_path, instance):
        self.folder = tmp_path / "corpus"
        self.folder.mkdir()
        self.instance = instance
        self.resources = {
            "storage": StorageResource(root=str(tmp_path / "artifacts")),
            "prompt_source": PromptSourceResource(train_path=str(self.folder)),
        }
        self.cursor = None

    def write(self, name: str, *lines: str) -> None:
        (self.folder / name).write_text("\n".join(lines) + "\n")

    def tick(self) -> SensorResult | SkipReason:
        context = build_sensor_context(
            instance=self.instance,
            cursor=self.cursor,
            resources={"prompt_source": self.resources["prompt_source"]},
        )
        registered = registered_shards(self.instance)
        result = prompt_sensor(context)
        assert registered_shards(self.instance) == registered  # the sensor only requests
        if isinstance(result, SensorResult):
            self.cursor = result.cursor
            for request in result.dynamic_partitions_requests:  # as the daemon does
                self.instance.add_dynamic_partitions(
                    request.partitions_def_name, list(request.partition_keys)
                )
        return result

    def requested(self) -> list[str]:
        """Shards the next tick requests, after which their runs are 'executed'."""
        result = self.tick()
        if isinstance(result, SkipReason):
            return []
        shards = [r.partition_key for r in result.run_requests]
        observed = {e.partition: e.tags["dagster/data_version"] for e in result.asset_events}
        assert sorted(observed) == sorted(shards)  # every requested shard is observed first
        for shard in shards:
            materialize([prompts], partition_key=shard, instance=self.instance,
                        resources=self.resources)  # fmt: skip
        return sorted(shards)


def test_only_changed_added_and_deleted_shards_are_requested(tmp_path):
    with DagsterInstance.ephemeral() as instance:
        w = Watch(tmp_path, instance)
        w.write("animals.txt", "a cat", "a dog")
        w.write("cities.csv", "prompt", "Paris at night")
        assert w.requested() == ["animals", "cities"]
        assert registered_shards(instance) == ["animals", "cities"]
        assert isinstance(w.tick(), SkipReason)  # nothing touched the files

        os.utime(w.folder / "animals.txt")  # touched, same content: read, nothing to run
        assert w.requested() == []

        w.write("birds.txt", "a robin")  # one prompt in a new shard
        assert w.requested() == ["birds"]
        assert registered_shards(instance) == ["animals", "cities", "birds"]

        w.write("animals.txt", "a cat", "a dog", "a horse")  # one prompt added
        assert w.requested() == ["animals"]
        w.write("animals.txt", "a cat", "a horse")  # one prompt deleted
        assert w.requested() == ["animals"]

        (w.folder / "cities.csv").unlink()  # a deleted file: its shard becomes empty
        assert w.requested() == ["cities"]
        assert read_prompts_frame(tmp_path / "artifacts/prompts/cities.parquet") == []
        assert registered_shards(instance) == ["animals", "cities", "birds"]


def test_a_fresh_cursor_trusts_the_instance_and_a_revert_runs_again(tmp_path):
    with DagsterInstance.ephemeral() as instance:
        w = Watch(tmp_path, instance)
        w.write("a.txt", "first version")
        w.write("b.txt", "untouched")
        assert w.requested() == ["a", "b"]
        w.cursor = None  # e.g. the sensor was reset: the instance is up to date
        assert w.requested() == []

        keys = []
        for text in ["second version", "first version", "second version"]:
            w.write("a.txt", text)
            result = w.tick()
            assert [r.partition_key for r in result.run_requests] == ["a"]
            keys.append(result.run_requests[0].run_key)
            materialize([prompts], partition_key="a", instance=instance, resources=w.resources)
        assert len(set(keys)) == 3  # each a new state of the shard, so each runs
        versions = PromptCursor.parse(w.cursor).versions
        assert set(versions) == {"a", "b"} and all(k.startswith("a:") for k in keys)


def skip_message(result: SensorResult | SkipReason) -> str:
    """The skip message of a tick that requested nothing."""
    if isinstance(result, SensorResult):
        assert not result.run_requests and not result.asset_events
        result = result.skip_reason
    return result.skip_message


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        (b"prompt\nParis at night\nRome \xff at dawn\n", "is not valid UTF-8: byte 0xff"),
        (b"caption_text,label\nParis at night,1\n", "names the columns ['caption_text', 'label']"),
    ],
    ids=["not_utf8", "no_prompt_column"],
)
def test_a_bad_file_skips_the_tick_and_its_fix_runs_the_changed_shard(
    tmp_path, monkeypatch, bad, error
):
    with DagsterInstance.ephemeral() as instance:
        w = Watch(tmp_path, instance)
        w.write("animals.txt", "a cat", "a dog")
        w.write("cities.csv", "prompt", "Paris at night")
        assert w.requested() == ["animals", "cities"]
        good = PromptCursor.parse(w.cursor)

        (w.folder / "cities.csv").write_bytes(bad)
        message = skip_message(w.tick())  # no stack trace: a skipped tick naming file and line
        assert f"Prompt file {w.folder / 'cities.csv'}" in message and error in message
        assert "line 3" in message if error.startswith("is not valid") else True
        assert "No run was requested" in message
        cursor = PromptCursor.parse(w.cursor)  # the last good state is kept
        assert (cursor.signature, cursor.versions) == (good.signature, good.versions)

        reads = []
        read = PromptSourceResource.shards
        monkeypatch.setattr(PromptSourceResource, "shards", lambda s: reads.append(1) or read(s))
        again = skip_message(w.tick())  # the same bad file is not read again
        assert again == f"Unchanged since the last tick: {message}" and not reads

        w.write("animals.txt", "a cat", "a dog", "a horse")  # another shard edited meanwhile
        w.write("cities.csv", "prompt", "Paris at night", "Rome at dawn")  # the fix
        requests = w.tick().run_requests  # read once, the runs of exactly the changed shards
        assert sorted(r.partition_key for r in requests) == ["animals", "cities"] and reads == [1]
        assert PromptCursor.parse(w.cursor).failed_signature is None
        assert isinstance(w.tick(), SkipReason)  # and all is quiet again
