"""The shared vocabulary of divjax: f-divergence generators and divergences.

Every other divjax area speaks this vocabulary instead of writing its own KL. Submodules, all
re-exported here:

* :mod:`~divjax.divergences.generators` — f-divergence generators as data: f, f′, (f′)⁻¹ = (f*)′,
  the convex conjugate f*, the f-distill weight h(u) = u² f″(u) and the boundary values f(0), f′(∞).
* :mod:`~divjax.divergences.discrete` — divergences between discrete distributions from
  probabilities or logits, with ``axis`` and three masks (``condition_on``: conditioning;
  ``sum_where``: ``optax.losses``' ``where``; ``row_mask``: padding rows), cancellation-free.
* :mod:`~divjax.divergences.gaussian` — closed forms between multivariate Gaussians with full
  covariances (KL, Rényi, Bhattacharyya/Hellinger, Cauchy–Schwarz, 2-Wasserstein).
* :mod:`~divjax.divergences.estimators` — sample-based estimators: k-nearest-neighbour KL, entropy
  (Kozachenko–Leonenko) and mutual information (KSG), exact on a KD-tree or by blocked brute force,
  and variational lower bounds (Donsker–Varadhan, NWJ, f-GAN) from critic outputs.

All values are in nats. The conventions, the numerically careful forms and the tests that check them
are explained in :doc:`/theory/fdivergences`.
"""

from divjax.divergences import discrete, estimators, gaussian, generators
from divjax.divergences.discrete import *  # noqa: F401,F403
from divjax.divergences.estimators import *  # noqa: F401,F403
from divjax.divergences.gaussian import *  # noqa: F401,F403
from divjax.divergences.generators import *  # noqa: F401,F403

__all__ = [*generators.__all__, *discrete.__all__, *gaussian.__all__, *estimators.__all__]
