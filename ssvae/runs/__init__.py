"""Whole runs over a workspace's files: the end-of-session pipeline every path shares, inference
to the npz, and the active-learning simulator."""
