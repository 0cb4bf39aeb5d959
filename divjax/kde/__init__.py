"""Gaussian kernel density estimation in high dimensions: a fast estimator and the REM theory.

* :mod:`divjax.kde.estimator` — ``log_density`` (whiten → one matmul → chunked logsumexp),
  ``loo_log_likelihood``, ``participation_ratio``, bandwidth rules, ``kl_to_reference``;
* :mod:`divjax.kde.theory` — random-energy-model theory of Biroli & Mézard (arXiv:2408.05807):
  thresholds ``h_g``/``h_clt``, the stable index, ``u_min``, per-dimension log-likelihood and KL, the
  KL-optimal bandwidth ``h_star``, and the exact finite-(n, d) prediction.

The theory and how divjax checks it: :doc:`/theory/kde_large_dim`.
"""

from divjax.kde import theory
from divjax.kde.estimator import (KLEstimate, kl_optimal_bandwidth, kl_to_reference, log_density,
                                  loo_log_likelihood, max_loo_bandwidth, participation_ratio,
                                  scott_bandwidth, silverman_bandwidth)

__all__ = [
    "theory",
    "log_density",
    "loo_log_likelihood",
    "participation_ratio",
    "scott_bandwidth",
    "silverman_bandwidth",
    "max_loo_bandwidth",
    "kl_optimal_bandwidth",
    "kl_to_reference",
    "KLEstimate",
]
