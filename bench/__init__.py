"""Benchmarks of skin-progress: speed, memory, scale, accuracy and app figures (``python -m bench``)."""
