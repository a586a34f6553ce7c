"""Low-level helpers with no BasicSR: whole-or-absent files, the checkpoint reader, image I/O, experiment folders,
process groups and devices, the per-process cache."""
