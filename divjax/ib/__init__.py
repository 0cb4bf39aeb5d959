"""Information-bottleneck quantities, IB objectives and information-theoretic generalisation bounds.

* :mod:`~divjax.ib.cauchy_schwarz` — the Cauchy–Schwarz divergence (Gaussian closed form and the
  log-sum-exp Gram-matrix estimator), the conditional CS divergence, CS quadratic mutual information
  (estimator and jointly-Gaussian closed form). One CS convention across divjax: Yu et al.'s
  −log((∫pq)²/(∫p²∫q²)), twice Jenssen et al.'s (2006).
* :mod:`~divjax.ib.gaussian_ib` — the exactly solvable Gaussian IB: optimal linear projections at every
  β, critical β's, exact information of linear-Gaussian encoders and the IB curve.
* :mod:`~divjax.ib.objectives` — variational IB and CS-IB losses, pure functions for flax + optax.
* :mod:`~divjax.ib.layerwise` — a package by topic: layerwise KL and W₁ generalisation bounds on the
  linear-Gaussian instance (``layerwise.linear_gaussian``), contraction (SDPI) coefficients of Dropout,
  DropConnect and Gaussian noise injection (``layerwise.contraction``), and the exact generalisation gap
  of the Gibbs algorithm on a finite parameter space (``layerwise.gibbs``) (He, Yu & Goldfeld,
  arXiv:2404.03176; Aminian et al., arXiv:2107.13656).

All values are in nats.
"""

from divjax.ib import cauchy_schwarz, gaussian_ib, layerwise, objectives
from divjax.ib.cauchy_schwarz import *  # noqa: F401,F403
from divjax.ib.cauchy_schwarz import cs_divergence_gaussian, cs_qmi_gaussian  # noqa: F401 (deprecated)
from divjax.ib.gaussian_ib import *  # noqa: F401,F403
from divjax.ib.layerwise import *  # noqa: F401,F403
from divjax.ib.objectives import *  # noqa: F401,F403

__all__ = [*cauchy_schwarz.__all__, *gaussian_ib.__all__, *objectives.__all__, *layerwise.__all__]
