"""Information-bottleneck quantities and information-theoretic generalisation bounds.

* :mod:`~divjax.ib.layerwise` — layerwise KL and W₁ generalisation bounds on the linear-Gaussian
  instance, contraction (SDPI) coefficients of Dropout, DropConnect and Gaussian noise injection, and
  the exact generalisation gap of the Gibbs algorithm on a finite parameter space (He, Yu & Goldfeld,
  arXiv:2404.03176; Aminian et al., arXiv:2107.13656).
"""

from divjax.ib import layerwise
from divjax.ib.layerwise import *  # noqa: F401,F403

__all__ = [*layerwise.__all__]
