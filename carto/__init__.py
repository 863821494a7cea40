"""Terreau's domain: food-solidarity resources, cooperation links, territories, analyses."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "data"

__all__ = ["DATA_DIR", "ROOT"]
