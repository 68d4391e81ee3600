"""Helpers for testing your own Captain Data pipelines with no key and no network.

The simulator itself is `captaindata_dagster.simulator`; this package builds on it and on the Dagster
layer: a resource aimed at a simulator, and pytest fixtures.
"""
