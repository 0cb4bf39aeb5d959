"""One module per reproduced result; run them with ``python -m experiments``.

See :mod:`experiments._harness` for the contract every experiment module follows.
"""

from experiments._harness import EXPERIMENTS, load, load_results, run_experiment, sweep

__all__ = ["EXPERIMENTS", "load", "load_results", "run_experiment", "sweep"]
