"""Evaluation helpers: synthetic ground truth and validity figures for the tests and the bench.

Nothing in the runtime package imports this (the import contract in pyproject.toml holds it):
the app, the CLI and the library's analysis code never depend on evaluation code.

- :mod:`analyzer.evaluation.align`: synthetic warps, landmark pairs, refusal figures.
- :mod:`analyzer.evaluation.metrics`: injected redness/spots/relief, relighting, noise floor.
- :mod:`analyzer.evaluation.concerns`: the concern measures' noise floor.
"""
