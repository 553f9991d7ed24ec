"""Experiment support: result records, DataFrame loaders and plots."""
