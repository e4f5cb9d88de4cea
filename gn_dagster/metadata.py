"""Metadata helpers: tables, plots and previews for the Dagster UI."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
from dagster import MetadataValue, TableColumn, TableRecord, TableSchema
from PIL import Image

from gn_models.images import markdown_image


def table(frame: pd.DataFrame) -> MetadataValue:
    """A pandas frame as a Dagster table (numbers as float/int, everything else as str)."""
    kinds = {"f": "float", "i": "int", "u": "int", "b": "bool"}
    schema = TableSchema(
        columns=[
            TableColumn(str(c), kinds.get(frame[c].dtype.kind, "string")) for c in frame.columns
        ]
    )
    records = [
        TableRecord({str(k): (v.item() if hasattr(v, "item") else str(v)) for k, v in row.items()})
        for row in frame.to_dict(orient="records")
    ]
    return MetadataValue.table(records, schema)


def line_plot(
    series: dict[str, tuple[list, list]], title: str, xlabel: str, ylabel: str
) -> MetadataValue:
    """Markdown with an inline PNG of named (x, y) curves, log-scaled y."""
    fig, ax = plt.subplots(figsize=(5, 3), dpi=80)
    for name, (x, y) in series.items():
        ax.plot(x, y, label=name)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel, yscale="log")
    ax.legend()
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    buffer.seek(0)
    return MetadataValue.md(markdown_image(Image.open(buffer), title))
