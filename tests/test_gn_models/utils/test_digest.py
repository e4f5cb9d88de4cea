import numpy as np

from gn_models.utils.digest import digest_arrays, digest_tree


def test_array_digest_sees_values_dtype_shape_and_names():
    base = {"noise": np.zeros((2, 3), np.float32), "prompt": np.array(["a", "b"], dtype=object)}
    same = {"prompt": np.array(["a", "b"], dtype=object), "noise": np.zeros((2, 3), np.float32)}
    assert digest_arrays(base) == digest_arrays(same)
    changed = [
        base | {"noise": np.ones((2, 3), np.float32)},
        base | {"noise": np.zeros((3, 2), np.float32)},
        base | {"noise": np.zeros((2, 3), np.float64)},
        base | {"prompt": np.array(["a", "c"], dtype=object)},
        {"x": base["noise"], "prompt": base["prompt"]},
    ]
    assert len({digest_arrays(c) for c in changed} | {digest_arrays(base)}) == 6


def test_tree_digest_ignores_the_folder_name_but_not_paths_or_bytes(tmp_path):
    for name in ("one", "two"):
        (tmp_path / name / "sub").mkdir(parents=True)
        (tmp_path / name / "sub" / "w.bin").write_bytes(b"\x00\x01")
    assert digest_tree(tmp_path / "one") == digest_tree(tmp_path / "two")
    (tmp_path / "two" / "sub" / "w.bin").rename(tmp_path / "two" / "sub" / "v.bin")
    assert digest_tree(tmp_path / "one") != digest_tree(tmp_path / "two")
    assert digest_tree(tmp_path / "one" / "sub" / "w.bin") == digest_tree(
        tmp_path / "two" / "sub" / "v.bin"
    )
