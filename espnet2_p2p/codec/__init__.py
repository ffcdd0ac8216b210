"""Codec models (one sub-package per model)."""
