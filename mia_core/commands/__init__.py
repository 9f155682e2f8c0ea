"""mia package."""
