"""The CLIP layer: weights (``weights``), the frozen shared encoder (``encoder``), its option checks (``options``).

It imports no BasicSR: everything above may use it, it uses nothing above it (docs/architecture.md).
"""
