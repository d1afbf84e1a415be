"""Shared TEK1 test vectors (tek1-vectors.json), produced by generate.py."""

from pathlib import Path

VECTORS_PATH = Path(__file__).with_name("tek1-vectors.json")
