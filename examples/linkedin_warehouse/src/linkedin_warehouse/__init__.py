"""Example dg project: the whole Captain Data pipeline is `defs/linkedin/defs.yaml`."""
