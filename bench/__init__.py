"""The benchmark suite: how fast aelib trains, next to PyTorch and scikit-learn on the same machine.

Run it with ``make bench`` (or ``python -m bench.run``); see bench/README.md.
"""
