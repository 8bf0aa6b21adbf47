"""What training reports and the workspace keeps of it: callback events, session entries, and
numbers as people read them. Pure Python (no numpy, no torch)."""
