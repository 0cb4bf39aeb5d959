r"""Entropic optimal transport through ott-jax, and knowledge distillation built on it.

divjax does not re-implement Sinkhorn: every solve builds an ``ott.geometry`` object and runs
``ott.solvers.linear.sinkhorn.Sinkhorn``. Two modules, every name re-exported here
(``from divjax import ot; ot.sinkhorn_cost``):

* :mod:`~divjax.ot.sinkhorn` — Sinkhorn costs and debiased Sinkhorn divergences on point clouds and
  histograms, the two batch paths, the solver options as one object (:class:`SinkhornOptions`) and
  the result types with their convergence diagnostics;
* :mod:`~divjax.ot.distillation` — SinKD's batch-wise Sinkhorn loss, the per-sample KD divergences
  (forward/reverse KL, JS, α, balanced) with their weight rules, and the combined distillation
  objective.

Names: ``epsilon`` is the entropic regularisation, ``options`` how a solve runs; ``alpha`` is always
the order of an α-divergence (as in :mod:`divjax.divergences`) and ``kd_weight`` the weight of the KD
term. All values are in nats.

References:
  Cuturi, *Sinkhorn distances: lightspeed computation of optimal transport*, NeurIPS 2013,
  arXiv:1306.0895.
  Cuturi, Meng-Papaxanthos, Tian, Bunne, Davis & Teboul, *Optimal transport tools (OTT): a JAX
  toolbox for all things Wasserstein*, 2022, arXiv:2201.12324.
  Cui, Ge, Xu, Ruan, Pan & Zhang, *SinKD: Sinkhorn distance minimization for knowledge
  distillation*, arXiv:2402.17110.
"""

from divjax.ot import distillation, sinkhorn
from divjax.ot.distillation import *  # noqa: F401,F403
from divjax.ot.sinkhorn import *  # noqa: F401,F403

__all__ = [*sinkhorn.__all__, *distillation.__all__]
