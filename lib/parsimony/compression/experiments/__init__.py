"""Experiments: each paper's sweeps, probes and claim statistics."""
