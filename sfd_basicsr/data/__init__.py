"""Data for BasicSR's datasets: LR images made the way the SR papers make them."""
