"""`golden-noise score` and `golden-noise compare` on folders of small random PNGs, scored by a
tiny random PickScore and a tiny random HPSv2 saved to local files (nothing is downloaded):
the tables hold the rewards' own scores, compare's numbers are the ones computed by hand from
them, and bad input ends in a clean message and a non-zero exit. Also the help texts, the
installed console script (one real subprocess run), and the demo / ui shortcuts' commands.
"""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from gn_models.cli import main
from gn_models.cli.images import ImageFolderError, read_image_folder
from gn_models.cli.metrics import offered_kinds
from gn_models.rewards.hpsv2 import HPSv2Reward
from gn_models.rewards.pickscore import PickScoreReward
from gn_models.rewards.registry import REWARD_CLASSES
from helpers.tiny_pipelines import TINY_HPSV2_ARCH
from helpers.tiny_rewards import build_tiny_pickscore

CONSOLE_SCRIPT = Path(sys.executable).parent / "golden-noise"
PROMPTS = ["a red fox in the snow", "a red fox in the snow", "a lighthouse", "a lighthouse"]
PROMPTS += ["an astronaut riding a horse", "an astronaut riding a horse"]
NAMES = [f"img_{i}.png" for i in range(len(PROMPTS))]
# (width, height) per image: mixed sizes are batched by size; img_5 is alone in its size, so
# it is scored alone wherever it is (the identical copy in folder B ties exactly).
SIZES = [(40, 32), (40, 32), (32, 32), (40, 32), (40, 32), (48, 48)]


def write_folder(root: Path, seed: int, copy_last_from: Path | None = None) -> Path:
    """Random PNGs of ``SIZES`` with a metadata.csv (file_name, prompt, seed, style)."""
    root.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for name, (width, height) in zip(NAMES, SIZES, strict=True):
        pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(root / name)
    if copy_last_from is not None:
        (root / NAMES[-1]).write_bytes((copy_last_from / NAMES[-1]).read_bytes())
    metadata = pd.DataFrame({"file_name": NAMES, "prompt": PROMPTS})
    metadata["seed"] = [0, 1] * 3
    metadata["style"] = "random"
    metadata.to_csv(root / "metadata.csv", index=False)
    return root


@pytest.fixture(scope="module")
def setup(tmp_path_factory, tiny_hpsv2_checkpoint):
    """Two folders of the same names and prompts (B's last image a copy of A's) and the two
    metric specs."""
    root = tmp_path_factory.mktemp("cli")
    model, processor = build_tiny_pickscore(root / "pickscore")
    a = write_folder(root / "a", seed=1)
    b = write_folder(root / "b", seed=2, copy_last_from=a)
    pickscore = f"pickscore:model={model},processor={processor}"
    hpsv2 = f"hpsv2:checkpoint={tiny_hpsv2_checkpoint},arch={TINY_HPSV2_ARCH}"
    return {
        "a": a,
        "b": b,
        "pickscore": pickscore,
        "hpsv2": hpsv2,
        "pickscore_folders": (model, processor),
        "hpsv2_checkpoint": tiny_hpsv2_checkpoint,
    }


def invoke(*args, **kwargs):
    return CliRunner().invoke(main, [str(a) for a in args], **kwargs)


def direct_scores(reward, folder: Path) -> np.ndarray:
    """The reward's ``score`` of each image of ``folder`` (NAMES order), one at a time."""
    scores = []
    for name, prompt in zip(NAMES, PROMPTS, strict=True):
        pixels = np.asarray(Image.open(folder / name).convert("RGB"), dtype=np.float32) / 255
        image = torch.from_numpy(pixels).permute(2, 0, 1)[None]
        scores.append(float(reward.score(image, [prompt], [None])[0]))
    return np.array(scores)


def assert_clean_error(result, *fragments, exit_code=None):
    """Non-zero exit through click (no traceback), the message holding every fragment."""
    assert result.exit_code != 0, result.output
    if exit_code is not None:
        assert result.exit_code == exit_code, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    text = " ".join(result.output.split())
    for fragment in fragments:
        assert fragment in text, result.output


def test_help_texts_list_the_commands_and_the_registry_kinds():
    top = invoke("--help")
    assert top.exit_code == 0
    for command in ("score", "compare", "demo", "ui"):
        assert f"golden-noise {command}" in top.output  # an example of each
    assert invoke("--version").output.strip() == "golden-noise, version 0.1.0"
    offered = offered_kinds()
    assert {"hpsv2", "pickscore"} <= set(offered)
    assert "digit_cnn" not in offered  # trained by the graph, no pretrained weights
    assert offered == [k for k, c in REWARD_CLASSES.items() if hasattr(c, "from_config")]
    for command in ("score", "compare"):
        text = " ".join(invoke(command, "--help").output.split())
        assert f"Available: {', '.join(offered)}." in text
        assert "95%" in text and "cluster" in text
    assert "one column per metric" in " ".join(invoke("score", "--help").output.split())
    assert "make demo" in invoke("demo", "--help").output


def test_score_writes_the_rewards_own_scores(setup, tmp_path):
    out = tmp_path / "scores.parquet"
    result = invoke(
        "score",
        setup["a"],
        "-m",
        setup["pickscore"],
        "--metric",
        setup["hpsv2"],
        "--out",
        out,
        "--device",
        "cpu",
        "--batch-size",
        2,
    )
    assert result.exit_code == 0, result.output
    table = pd.read_parquet(out)
    columns = ["file_name", "prompt", "seed", "style", "PickScore", "HPSv2"]
    assert list(table.columns) == columns and len(table) == len(NAMES)
    assert table["file_name"].tolist() == NAMES and table["prompt"].tolist() == PROMPTS
    assert table["seed"].tolist() == [0, 1] * 3 and str(table["seed"].dtype) == "Int64"
    pickscore = PickScoreReward.from_pretrained(*setup["pickscore_folders"])
    hpsv2 = HPSv2Reward.from_checkpoint(setup["hpsv2_checkpoint"], arch=TINY_HPSV2_ARCH)
    expected = {"PickScore": direct_scores(pickscore, setup["a"])}
    expected["HPSv2"] = direct_scores(hpsv2, setup["a"])
    for name, values in expected.items():
        np.testing.assert_allclose(table[name], values, atol=1e-4, rtol=0)
    identity = table.attrs["golden_noise"]["metrics"]["PickScore"]
    assert identity["kind"] == "pickscore" and identity["config"]["batch_size"] == 2
    # The summary: mean, std and images per metric, the interval around the mean.
    lines = {line.split()[0]: line.split() for line in result.stdout.splitlines() if line}
    for name, values in expected.items():
        _, _, images, prompts, mean, std, low, high = lines[name]
        assert (int(images), int(prompts)) == (6, 3)
        assert float(mean) == pytest.approx(values.mean(), abs=1e-4)
        assert float(std) == pytest.approx(values.std(ddof=1), abs=1e-4)
        assert float(low) <= float(mean) <= float(high)


def test_console_script_scores_a_folder_and_fails_cleanly(setup, tmp_path):
    out = tmp_path / "scores.parquet"
    command = [CONSOLE_SCRIPT, "score", setup["a"], "-m", setup["pickscore"], "--out", out]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "PickScore" in done.stdout and str(out) in done.stdout
    in_process = invoke("score", setup["a"], "-m", setup["pickscore"], "--out", tmp_path / "b.pq")
    assert in_process.exit_code == 0, in_process.output
    pd.testing.assert_frame_equal(pd.read_parquet(out), pd.read_parquet(tmp_path / "b.pq"))
    # Missing weights: what to download, no traceback, exit 1.
    missing = [CONSOLE_SCRIPT, "score", setup["a"], "-m", f"pickscore:model={tmp_path / 'no'}"]
    done = subprocess.run(missing, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "Error: Could not load metric" in done.stderr and "hf download" in done.stderr


def read_comparison(path: Path) -> dict:
    table = pd.read_csv(path)
    return {row["metric"]: row for _, row in table.iterrows()}


def test_compare_a_folder_with_itself(setup, tmp_path):
    out = tmp_path / "same.csv"
    result = invoke("compare", setup["a"], setup["a"], "-m", setup["pickscore"], "--out", out)
    assert result.exit_code == 0, result.output
    row = read_comparison(out)["PickScore"]
    assert row["diff"] == 0 and row["diff_ci_low"] == 0 and row["diff_ci_high"] == 0
    assert row["win_rate"] == 0.5 and row["win_rate_ci_low"] == row["win_rate_ci_high"] == 0.5
    assert (row["wins"], row["ties"], row["losses"]) == (0, 6, 0)
    assert row["mean_A"] == row["mean_B"] and (row["images"], row["prompts"]) == (6, 3)
    assert "0.0000 [0.0000, 0.0000]" in result.stdout and "0.500 [0.500, 0.500]" in result.stdout
    assert "0/6/0" in result.stdout


def test_compare_two_folders_matches_the_numbers_by_hand(setup, tmp_path):
    metrics = ["-m", setup["pickscore"], "-m", setup["hpsv2"]]
    scores = {}
    for side in ("a", "b"):
        out = tmp_path / f"{side}.parquet"
        assert invoke("score", setup[side], *metrics, "--out", out).exit_code == 0
        scores[side] = pd.read_parquet(out)
    out = tmp_path / "comparison.csv"
    result = invoke("compare", setup["a"], setup["b"], *metrics, "--out", out)
    assert result.exit_code == 0, result.output
    rows = read_comparison(out)
    for name in ("PickScore", "HPSv2"):
        a, b = scores["a"][name].to_numpy(), scores["b"][name].to_numpy()
        delta = b - a
        assert delta[-1] == 0  # the copied image, scored alone in both folders: a tie
        by_hand = (np.sum(delta > 1e-6) + 0.5 * np.sum(np.abs(delta) <= 1e-6)) / len(delta)
        row = rows[name]
        assert row["mean_A"] == pytest.approx(a.mean(), abs=1e-9)
        assert row["mean_B"] == pytest.approx(b.mean(), abs=1e-9)
        assert row["diff"] == pytest.approx(b.mean() - a.mean(), abs=1e-9)
        assert row["win_rate"] == pytest.approx(by_hand, abs=1e-12)
        assert row["ties"] >= 1 and row["wins"] + row["ties"] + row["losses"] == 6
        assert row["diff_ci_low"] <= row["diff"] <= row["diff_ci_high"]
        assert row["win_rate_ci_low"] <= row["win_rate"] <= row["win_rate_ci_high"]
        assert row["diff_ci_low"] < row["diff_ci_high"]  # the images differ: a real interval


def test_compare_reuses_an_unchanged_folders_scores(setup, tmp_path):
    folder = tmp_path / "a"
    folder.mkdir()
    for path in setup["a"].iterdir():
        (folder / path.name).write_bytes(path.read_bytes())
    metric = ["-m", setup["pickscore"], "--device", "cpu"]
    assert invoke("score", folder, *metric).exit_code == 0
    # Shift the stored scores by 1: a reused table shows in the means.
    stored = pd.read_parquet(folder / "scores.parquet")
    stored["PickScore"] += 1.0
    stored.to_parquet(folder / "scores.parquet", index=False)  # attrs are kept
    out = tmp_path / "c.csv"
    reused = invoke("compare", setup["a"], folder, *metric, "--out", out)
    assert reused.exit_code == 0 and f"reusing {folder / 'scores.parquet'}" in reused.stderr
    assert read_comparison(out)["PickScore"]["diff"] == pytest.approx(1.0, abs=1e-9)
    rescored = invoke("compare", setup["a"], folder, *metric, "--out", out, "--rescore")
    assert "reusing" not in rescored.stderr and read_comparison(out)["PickScore"]["diff"] == 0
    other = invoke("compare", setup["a"], folder, *metric, "--batch-size", 3, "--out", out)
    assert "reusing" not in other.stderr  # other settings: scored afresh
    (folder / NAMES[0]).write_bytes((setup["b"] / NAMES[0]).read_bytes())  # an image changed
    changed = invoke("compare", setup["a"], folder, *metric, "--out", out)
    assert "reusing" not in changed.stderr


@pytest.mark.parametrize(
    ("metric", "fragments"),
    [
        ("nope", ["unknown metric kind 'nope'", "available: ", "hpsv2", "pickscore"]),
        ("digit_cnn", ["the Dagster graph trains", "available: "]),
        ("pickscore:model", ["'model' in 'pickscore:model' is not key=value"]),
        ("pickscore:colour=red", ["pickscore has no setting 'colour'", "processor="]),
        ("pickscore:batch_size=two", ["batch_size='two': expected an integer"]),
        ("pickscore:batch_size=0", ["batch_size=0 is invalid", "an integer >= 1"]),
        ("pickscore:batch_size=1,batch_size=2", ["'batch_size' is given twice"]),
    ],
)
def test_bad_metric_specs(setup, metric, fragments):
    result = invoke("score", setup["a"], "-m", metric)
    assert_clean_error(result, "Invalid value for '--metric'", *fragments, exit_code=2)


def test_missing_weights_say_what_to_download(setup, tmp_path):
    result = invoke("score", setup["a"], "-m", f"hpsv2:checkpoint={tmp_path / 'HPS.pt'}")
    assert_clean_error(result, "hf download xswu/HPSv2 HPS_v2.1_compressed.pt", exit_code=1)
    result = invoke("compare", setup["a"], setup["b"], "-m", f"pickscore:model={tmp_path}/x")
    assert_clean_error(result, "hf download yuvalkirstain/PickScore_v1", exit_code=1)


def test_bad_folders(setup, tmp_path):
    metric = ["-m", setup["pickscore"]]
    plain = tmp_path / "plain"
    plain.mkdir()
    Image.new("RGB", (8, 8)).save(plain / "x.png")
    assert_clean_error(invoke("score", plain, *metric), f"No prompts for the images in {plain}")
    assert_clean_error(invoke("score", tmp_path / "empty_or_absent", *metric), "not a folder")
    (tmp_path / "empty").mkdir()
    assert_clean_error(invoke("score", tmp_path / "empty", *metric), "No images in")
    pd.DataFrame({"file_name": ["x.png", "gone.png"], "prompt": ["a", "b"]}).to_csv(
        plain / "metadata.csv", index=False
    )
    assert_clean_error(invoke("score", plain, *metric), "not in", "'gone.png'", "Remove those rows")
    Image.new("RGB", (8, 8)).save(plain / "gone.png")
    Image.new("RGB", (8, 8)).save(plain / "extra.png")
    assert_clean_error(invoke("score", plain, *metric), "No prompt for 1 image(s)", "'extra.png'")
    # Folders that do not pair.
    fewer = tmp_path / "fewer"
    write_folder(fewer, seed=3)
    (fewer / NAMES[0]).unlink()
    metadata = pd.read_csv(fewer / "metadata.csv")
    metadata.iloc[1:].to_csv(fewer / "metadata.csv", index=False)
    result = invoke("compare", setup["a"], fewer, *metric)
    assert_clean_error(result, "must hold the same file names", f"['{NAMES[0]}']")
    reworded = tmp_path / "reworded"
    write_folder(reworded, seed=3)
    metadata = pd.read_csv(reworded / "metadata.csv")
    metadata.loc[2, "prompt"] = "a lighthouse at night"
    metadata.to_csv(reworded / "metadata.csv", index=False)
    result = invoke("compare", setup["a"], reworded, *metric)
    assert_clean_error(result, "different prompts", "img_2.png: 'a lighthouse' in A")
    assert_clean_error(invoke("score", setup["a"], "-m", setup["pickscore"], "--device", "gpu"))


def test_prompt_files(tmp_path):
    folder = tmp_path / "f"
    folder.mkdir()
    for name in ("b.png", "a.jpg", "sub/c.webp"):
        (folder / name).parent.mkdir(exist_ok=True)
        Image.new("RGB", (8, 6), "red").save(folder / name)
    (folder / "notes.txt").write_text("not an image")
    txt = tmp_path / "prompts.txt"
    txt.write_text("first\n\nsecond  prompt\nthird\n")
    images = read_image_folder(folder, txt)
    assert images.file_names == ["a.jpg", "b.png", "sub/c.webp"]  # sorted, subfolders too
    assert images.prompts == ["first", "second prompt", "third"]
    csv = tmp_path / "prompts.csv"
    csv.write_text('prompt\nfirst\n"second, with a comma"\nthird\n')
    assert read_image_folder(folder, csv).prompts[1] == "second, with a comma"
    csv.write_text("file_name,prompt\nsub/c.webp,C\na.jpg,A\nb.png,B\n")
    assert read_image_folder(folder, csv).prompts == ["A", "B", "C"]
    batches = list(read_image_folder(folder, csv).batches(2))
    assert [len(i) for i, _ in batches] == [2, 1]
    _, pixels = batches[0]
    assert pixels.shape == (2, 3, 6, 8) and pixels.dtype == torch.float32
    assert pixels.min() >= 0 and pixels.max() <= 1
    with pytest.raises(ImageFolderError, match=re.escape("gives 2 prompts for 3 images")):
        txt.write_text("one\ntwo\n")
        read_image_folder(folder, txt)
    with pytest.raises(ImageFolderError, match="No prompt for 1 image"):
        csv.write_text("file_name,prompt\na.jpg,A\nb.png,B\n")
        read_image_folder(folder, csv)
    with pytest.raises(ImageFolderError, match="row 2 has 2 columns"):
        csv.write_text("first\nsecond, unquoted\nthird\n")
        read_image_folder(folder, csv)


def test_demo_and_ui_run_the_makefile_targets(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert_clean_error(invoke("demo"), "Makefile, workspace.yaml, dagster.yaml not found")
    (tmp_path / "workspace.yaml").write_text("load_from: []\n")
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    (tmp_path / "Makefile").write_text("demo:\n\techo demo >> ran\nui:\n\techo ui >> ran; exit 3\n")
    assert invoke("demo").exit_code == 0
    assert invoke("ui").exit_code == 2  # make exits 2 when a recipe fails: so does the command
    assert (tmp_path / "ran").read_text() == "demo\nui\n"
