"""divjax: divergence theory in JAX.

Pure, ``jit``/``vmap``/``grad``-able estimators and solvers for divergence theory, with experiment
modules that reproduce published scaling and convergence results (``python -m experiments``).

Layers (imports point downwards):

* ``experiments/`` — one module per reproduced result;
* ``divjax.<area>`` — estimators, solvers and theory for one area;
* :mod:`divjax.divergences`, :mod:`divjax.plotting` and the private argument checks — the shared
  vocabulary.
"""

from divjax import divergences

__version__ = "0.1.0"

__all__ = ["divergences", "__version__"]
