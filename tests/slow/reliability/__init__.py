"""Reliability and security: faults, kills, bad input and secrets, with nothing lost."""
