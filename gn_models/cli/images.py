"""Image folders for the command line: which images, their prompts, and batches of pixels.

A folder follows the 🤗 datasets ImageFolder convention: image files (png, jpg, jpeg, webp, in
the folder or its subfolders) and a ``metadata.csv`` (or ``metadata.jsonl``) beside them with
a ``file_name`` column (the path relative to the folder, ``/``-separated), a ``prompt`` column,
an optional ``seed`` column and any other columns, which are kept. Without metadata, a prompt
file (``--prompts``) gives the prompts: a TXT with one prompt per line or a one-column CSV
(header ``prompt`` or none), one prompt per image in sorted file-name order; or a CSV with
``file_name`` and ``prompt`` columns. With both, the prompt file's prompts replace the
metadata's and the metadata's other columns are kept.

Every problem is an ``ImageFolderError`` (a ValueError) that names the folder or file and says
how to fix it; nothing here imports click.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from gn_models.data.prompt_rows import normalise_prompt

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
METADATA_FILES = ("metadata.csv", "metadata.jsonl")
SHOWN = 5  # file names quoted in an error message


class ImageFolderError(ValueError):
    """An image folder or prompt file that cannot be read as asked; the message says why and
    what to do."""


@dataclass
class ImageFolder:
    """The images of a folder and one row per image.

    Attributes:
        root: the folder.
        table: one row per image, sorted by ``file_name``: ``file_name`` (relative, ``/``),
            ``prompt`` (str), ``seed`` (Int64, when the metadata has one) and the metadata's
            other columns.
    """

    root: Path
    table: pd.DataFrame

    def __len__(self) -> int:
        return len(self.table)

    @property
    def file_names(self) -> list[str]:
        return self.table["file_name"].tolist()

    @property
    def prompts(self) -> list[str]:
        return self.table["prompt"].tolist()

    def fingerprint(self) -> str:
        """SHA-256 of every image's name, size and modification time: equal while no image
        was added, removed, renamed or rewritten (a score table is reused only then)."""
        digest = hashlib.sha256()
        for name in self.file_names:
            stat = (self.root / name).stat()
            digest.update(f"{name}\t{stat.st_size}\t{stat.st_mtime_ns}\n".encode())
        return digest.hexdigest()

    def batches(self, batch_size: int) -> Iterator[tuple[np.ndarray, torch.Tensor]]:
        """Images in batches of at most ``batch_size`` that share one size.

        Yields:
            (indices into ``table``, (b, 3, H, W) float32 in [0, 1]); every image exactly once,
            in file-name order within a size (images of one size in a row share batches).

        Raises:
            ImageFolderError: a file that is not a readable image.
        """
        sizes = [_image_size(self.root / name) for name in self.file_names]
        order = sorted(range(len(sizes)), key=lambda i: (sizes[i][1], sizes[i][0], i))
        group: list[int] = []
        for i in order:
            if group and (len(group) == batch_size or sizes[group[0]] != sizes[i]):
                yield np.array(group), self._load(group)
                group = []
            group.append(i)
        if group:
            yield np.array(group), self._load(group)

    def _load(self, indices: list[int]) -> torch.Tensor:
        names = self.table["file_name"]
        return torch.stack([load_image(self.root / names.iloc[i]) for i in indices])


def load_image(path: Path) -> torch.Tensor:
    """One image file as RGB (3, H, W) float32 in [0, 1] (alpha dropped, grey replicated).

    Raises:
        ImageFolderError: the file does not open as an image.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            pixels = np.asarray(image.convert("RGB"), dtype=np.uint8)  # (H, W, 3)
    except (OSError, UnidentifiedImageError) as err:
        raise ImageFolderError(
            f"Could not read image {path}: {err}. Delete or replace the file."
        ) from err
    return torch.from_numpy(pixels.copy()).permute(2, 0, 1).float().div_(255.0)


def _image_size(path: Path) -> tuple[int, int]:
    """(width, height) of an image file without decoding its pixels."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return image.size
    except (OSError, UnidentifiedImageError) as err:
        raise ImageFolderError(
            f"Could not read image {path}: {err}. Delete or replace the file."
        ) from err


def _shown(names: list[str]) -> str:
    more = f" and {len(names) - SHOWN} more" if len(names) > SHOWN else ""
    return ", ".join(map(repr, names[:SHOWN])) + more


def find_images(root: Path) -> list[str]:
    """Relative ``/``-paths of the image files under ``root`` (hidden folders skipped), sorted.

    Raises:
        ImageFolderError: ``root`` is not a folder, or holds no images.
    """
    if not root.is_dir():
        raise ImageFolderError(f"{root} is not a folder. Pass a folder of images.")
    names = sorted(
        path.relative_to(root).as_posix()
        for path in root.rglob("*")
        if path.suffix.lower() in IMAGE_SUFFIXES
        and path.is_file()
        and not any(part.startswith(".") for part in path.relative_to(root).parts)
    )
    if not names:
        raise ImageFolderError(
            f"No images in {root}: expected files ending in {', '.join(IMAGE_SUFFIXES)} "
            "(in the folder or its subfolders)."
        )
    return names


def read_image_folder(root: str | Path, prompts: str | Path | None = None) -> ImageFolder:
    """The images of ``root`` with their prompts (module docstring: where prompts come from).

    Args:
        root: the image folder.
        prompts: a prompt file (TXT or CSV) that gives the prompts; None: the folder's
            ``metadata.csv`` / ``metadata.jsonl``.

    Raises:
        ImageFolderError: no images, no prompts (neither metadata nor a prompt file), a
            metadata row or prompt-file row whose image is missing, an image without a
            prompt, a blank prompt, a duplicate file name, or a seed that is no integer.
    """
    root = Path(root)
    names = find_images(root)
    metadata = _read_metadata(root)
    if prompts is not None:
        given = _read_prompt_file(Path(prompts), names, root)
        table = metadata.drop(columns="prompt", errors="ignore") if metadata is not None else None
        if table is not None:
            _check_rows_match(table, names, root, metadata_file(root))
            given = given.merge(table, on="file_name", how="left")
        table = given
    elif metadata is None:
        raise ImageFolderError(
            f"No prompts for the images in {root}: add a metadata.csv with columns "
            "file_name,prompt (optionally seed) beside the images (the 🤗 datasets "
            "ImageFolder convention), or pass --prompts FILE (one prompt per image in sorted "
            "file-name order, or a CSV with file_name,prompt columns)."
        )
    else:
        table = metadata
        _check_rows_match(table, names, root, metadata_file(root))
        _check_prompts(table, metadata_file(root))
    table = table.sort_values("file_name", kind="stable").reset_index(drop=True)
    if "seed" in table.columns:
        table["seed"] = _seeds(table, root)
    return ImageFolder(root, table)


def metadata_file(root: Path) -> Path | None:
    """The folder's metadata file, None when it has none."""
    return next((root / n for n in METADATA_FILES if (root / n).is_file()), None)


def _read_metadata(root: Path) -> pd.DataFrame | None:
    path = metadata_file(root)
    if path is None:
        return None
    try:
        if path.suffix == ".csv":
            table = pd.read_csv(
                path, dtype={"file_name": str, "prompt": str}, keep_default_na=False
            )
        else:
            table = pd.read_json(path, lines=True, dtype={"file_name": str, "prompt": str})
    except (ValueError, pd.errors.ParserError) as err:
        raise ImageFolderError(f"Could not read {path}: {err}") from err
    missing = [c for c in ("file_name", "prompt") if c not in table.columns]
    if missing:
        raise ImageFolderError(
            f"{path} has no {' or '.join(missing)} column (columns: {list(table.columns)}). "
            "ImageFolder metadata needs a file_name column (image path relative to the folder) "
            "and a prompt column."
        )
    table["file_name"] = table["file_name"].astype(str).str.strip().str.removeprefix("./")
    table["prompt"] = [normalise_prompt(str(p)) for p in table["prompt"]]
    return table


def _check_rows_match(table: pd.DataFrame, names: list[str], root: Path, source) -> None:
    """Every image has exactly one row of ``table`` and every row an image."""
    duplicated = table["file_name"][table["file_name"].duplicated()].unique().tolist()
    if duplicated:
        raise ImageFolderError(
            f"{source} lists {_shown(duplicated)} more than once; give each image one row."
        )
    rows, files = set(table["file_name"]), set(names)
    absent = sorted(rows - files)
    if absent:
        raise ImageFolderError(
            f"{source} has rows for images that are not in {root}: {_shown(absent)}. Remove "
            "those rows or add the images (file_name is the path relative to the folder)."
        )
    unlisted = sorted(files - rows)
    if unlisted:
        raise ImageFolderError(
            f"No prompt for {len(unlisted)} image(s) of {root} in {source}: {_shown(unlisted)}. "
            "Add a row (file_name,prompt) for each, or move the images out of the folder."
        )


def _check_prompts(table: pd.DataFrame, source) -> None:
    blank = table["file_name"][table["prompt"].isin(["", "nan", "None"])].tolist()
    if blank:
        raise ImageFolderError(f"{source} has no prompt for {_shown(sorted(blank))}; fill it in.")


def _seeds(table: pd.DataFrame, root: Path) -> pd.Series:
    """The seed column as nullable integers (blank cells: <NA>)."""
    raw = table["seed"]
    blank = raw.isna() | raw.astype(str).str.strip().isin(["", "nan", "None", "<NA>"])
    numbers = pd.to_numeric(raw.where(~blank), errors="coerce")
    bad = table["file_name"][~blank & (numbers.isna() | (numbers % 1 != 0))].tolist()
    if bad:
        raise ImageFolderError(
            f"The seed column of {metadata_file(root)} holds values that are no integers for "
            f"{_shown(bad)}; use integer seeds or leave the cell empty."
        )
    return numbers.astype("Int64")


def _read_prompt_file(path: Path, names: list[str], root: Path) -> pd.DataFrame:
    """``file_name``, ``prompt`` for ``names`` from a TXT or CSV prompt file."""
    if not path.is_file():
        raise ImageFolderError(f"Prompt file {path} does not exist.")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise ImageFolderError(f"Prompt file {path} is not UTF-8 text: {err}.") from err
    if path.suffix.lower() == ".csv":
        rows = [row for row in csv.reader(text.splitlines()) if any(c.strip() for c in row)]
        header = [cell.strip().lower() for cell in rows[0]] if rows else []
        if "file_name" in header and "prompt" in header:
            name_col, prompt_col = header.index("file_name"), header.index("prompt")
            table = pd.DataFrame(
                {
                    "file_name": [r[name_col].strip().removeprefix("./") for r in rows[1:]],
                    "prompt": [normalise_prompt(r[prompt_col]) for r in rows[1:]],
                }
            )
            _check_rows_match(table, names, root, path)
            _check_prompts(table, path)
            return table
        if "prompt" in header:
            column = header.index("prompt")
            prompts = [row[column] if column < len(row) else "" for row in rows[1:]]
        else:
            wide = next((i for i, row in enumerate(rows) if len(row) > 1), None)
            if wide is not None:
                raise ImageFolderError(
                    f"Prompt file {path}, row {wide + 1} has {len(rows[wide])} columns: a CSV "
                    "prompt file holds one column (header prompt, or none) or the columns "
                    'file_name,prompt. Quote prompts with commas ("a cat, sitting") or use a '
                    ".txt file (one prompt per line)."
                )
            prompts = [row[0] for row in rows]
    else:
        prompts = [line for line in text.splitlines() if line.strip()]
    prompts = [normalise_prompt(p) for p in prompts]
    if len(prompts) != len(names):
        raise ImageFolderError(
            f"Prompt file {path} gives {len(prompts)} prompts for {len(names)} images: one "
            "prompt per image, in sorted file-name order (first image "
            f"{names[0]!r}), or use a CSV with file_name,prompt columns."
        )
    table = pd.DataFrame({"file_name": names, "prompt": prompts})
    _check_prompts(table, path)
    return table
