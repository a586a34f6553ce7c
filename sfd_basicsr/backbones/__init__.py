"""The backbone layer: what a backbone name and weights mean (``names``, ``weights`` with one module per library),
what a backbone offers (``layout``), the frozen shared encoder (``encoder``, one module per library), its option
checks (``options``).

It imports no BasicSR: everything above may use it, it uses nothing above it (docs/architecture.md).
"""
