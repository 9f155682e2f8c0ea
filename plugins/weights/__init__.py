"""Weights sources (``mia_weights`` hook)."""
