"""Exponential families and the MLE → information-projection risk (Sheena, arXiv:2105.08947).

* :mod:`~divjax.expfam.family` — families as pytrees (T, ψ, log h; ψ's derivatives by autodiff):
  Bernoulli, categorical, Poisson, exponential, Gamma, normal, multivariate normal, a polynomial family
  whose ψ is a quadrature, and user-defined families.
* :mod:`~divjax.expfam.projection` — information projection and MLE by moment matching (damped
  Newton), KL as a Bregman divergence.
* :mod:`~divjax.expfam.risk` — the risk expansion R_n = R₁/n + R₂/n² (both coordinate forms), exact
  finite-n risks and a vmapped Monte-Carlo risk.
* :mod:`~divjax.expfam.criterion` — Bayes-error bounds, D*(ε), the p–n criterion and model compression.

Work in float64 (``jax.config.update("jax_enable_x64", True)`` or ``with jax.enable_x64(True):``): the
n⁻² term is a small correction that float32 cannot resolve.

The theory and how divjax checks it: :doc:`/theory/mle_info_projection`.
"""

from divjax.expfam import criterion, family, projection, risk
from divjax.expfam.criterion import *  # noqa: F401,F403
from divjax.expfam.family import *  # noqa: F401,F403
from divjax.expfam.projection import *  # noqa: F401,F403
from divjax.expfam.risk import *  # noqa: F401,F403
from divjax.expfam.projection import kl_divergence  # deprecated alias, not in __all__

__all__ = [*family.__all__, *projection.__all__, *risk.__all__, *criterion.__all__]
