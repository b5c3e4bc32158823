"""Side-by-side benchmarks of automask and its peers (xgrammar, llguidance, outlines-core).

Run ``python -m benchmarks.run --help``; see ``benchmarks/README.md``.
"""
