"""What to label next: the labeling queue's strategies over the points of one model state, and
the 2-D view those points live in. numpy only."""
