"""Lakehouse operations on the published gold: Delta reads (`lake`) and the publish step (`publish`).

`ml/` holds the machine-learning steps only; anything that writes, restores or maintains the Delta
tables lives here.
"""
