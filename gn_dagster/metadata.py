"""Metadata helpers: tables, plots and previews for the Dagster UI."""

from __future__ import annotations

import io

import fsspec
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    MetadataValue,
    TableColumn,
    TableRecord,
    TableSchema,
)
from PIL import Image

from gn_models.evaluation.quality import Verdict
from gn_models.utils.images import markdown_image


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
    return figure_markdown(fig, title)


def histogram_plot(samples: dict[str, np.ndarray], title: str, xlabel: str) -> MetadataValue:
    """Markdown with an inline PNG of overlaid histograms of named samples (shared bins)."""
    values = np.concatenate([np.asarray(v, dtype=float) for v in samples.values()])
    bins = np.histogram_bin_edges(values[np.isfinite(values)], bins=30)
    fig, ax = plt.subplots(figsize=(5, 3), dpi=80)
    for name, v in samples.items():
        ax.hist(v, bins=bins, histtype="step", label=name)
    ax.axvline(0.0, color="grey", linewidth=0.8)
    ax.set(title=title, xlabel=xlabel, ylabel="count")
    ax.legend(fontsize="small")
    fig.tight_layout()
    return figure_markdown(fig, title)


def figure_markdown(fig, title: str, url: str | None = None) -> MetadataValue:
    """Markdown with the figure as an inline PNG (the figure is closed); the PNG is also
    written to ``url`` (a local path or fsspec URL) when given."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    if url:
        with fsspec.open(url, "wb") as f:
            f.write(buffer.getvalue())
    buffer.seek(0)
    return MetadataValue.md(markdown_image(Image.open(buffer), title))


def check_result(
    verdict: Verdict,
    check_name: str | None = None,
    severity: AssetCheckSeverity = AssetCheckSeverity.ERROR,
) -> AssetCheckResult:
    """A Dagster check result from a verdict (metadata: its description and numbers); a
    failure of severity WARN does not block downstream assets even on a blocking check."""
    return AssetCheckResult(
        check_name=check_name,
        passed=verdict.passed,
        severity=severity,
        description=verdict.description,
        metadata={"verdict": verdict.description, **verdict.metrics},
    )


def truncation_metadata(backend, prompts: list, log) -> dict:
    """How many prompts the text encoder truncates (longer than its context), logged as a
    warning with examples; metadata ``truncated_prompts`` (count) and, when any,
    ``truncated_prompt_tokens`` (the first ten, prompt -> token count)."""
    truncated = backend.truncated_prompts([p.text for p in prompts])
    if not truncated:
        return {"truncated_prompts": 0}
    context = backend.prompt_tokenizer[1]
    examples = {text[:100]: count for text, count in list(truncated.items())[:10]}
    log.warning(
        f"{len(truncated)} of {len(prompts)} prompts are longer than the text encoder's context "
        f"({context} tokens); only their first {context} tokens are used. Examples: {examples}"
    )
    return {
        "truncated_prompts": len(truncated),
        "truncated_prompt_tokens": MetadataValue.json(examples),
    }
