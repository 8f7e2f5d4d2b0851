"""Experiments of the dictionary family: each paper's sweeps, probes and claim statistics.

:mod:`.identification` (Gribonval & Schnass, IEEE TIT 2010) and :mod:`.analysis`
(Yaghoobi, Nam, Gribonval & Davies, IEEE TSP 2013).
"""
