"""Paths the tests read: the repository and the shared prompt sets beside it."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHARED_PROMPTS = REPO.parent / "shared" / "data" / "prompts"  # DrawBench, Pick-a-Pic test
