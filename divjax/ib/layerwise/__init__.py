r"""Layerwise information-theoretic generalisation bounds, contraction coefficients, the Gibbs algorithm.

The machinery of He, Yu & Goldfeld (arXiv:2404.03176): hierarchical bounds on the expected
generalisation error in terms of the KL divergence or the 1-Wasserstein distance between the
*train* and *test* laws of the internal representation at layer l, and strong-data-processing
(contraction) coefficients of Dropout, DropConnect and Gaussian noise injection; and the exact
generalisation gap of the Gibbs algorithm (Aminian et al., arXiv:2107.13656). One module per topic,
every name re-exported here and from :mod:`divjax.ib`:

* :mod:`~divjax.ib.layerwise.linear_gaussian` — the linear-Gaussian instance: per-layer KL (with and
  without injected noise), the output KL, the squared-loss gap and the layerwise KL / W₁ bounds;
* :mod:`~divjax.ib.layerwise.contraction` — contraction (SDPI) coefficients of Dropout, DropConnect
  and Gaussian noise, Dobrushin's η_TV and a numerical lower bound on η_KL;
* :mod:`~divjax.ib.layerwise.gibbs` — the Gibbs algorithm on a finite parameter space, enumerated
  exactly.

The closed forms on the linear-Gaussian instance are divjax's own derivations; each is checked
numerically in ``tests/ib/test_layerwise.py``, and the theory page :doc:`/theory/layerwise_bounds`
derives them and says which statements are the paper's. All values are in nats.

Validation follows ``divjax._validate``: concrete arguments are checked (``ValueError``/``TypeError``
naming the argument); under ``jit``/``vmap``/``grad`` a failed value check gives NaN.

References:
  He, Yu & Goldfeld, *Information-theoretic generalization bounds for deep neural networks*,
  arXiv:2404.03176 (2024); ISIT 2024 version *Hierarchical generalization bounds for deep neural
  networks*.
  Aminian, Bu, Toni, Rodrigues & Wornell, *An exact characterization of the generalization error for
  the Gibbs algorithm*, NeurIPS 2021, arXiv:2107.13656.
"""

from divjax.ib.layerwise import contraction, gibbs, linear_gaussian
from divjax.ib.layerwise.contraction import *  # noqa: F401,F403
from divjax.ib.layerwise.gibbs import *  # noqa: F401,F403
from divjax.ib.layerwise.linear_gaussian import *  # noqa: F401,F403

__all__ = [*linear_gaussian.__all__, *contraction.__all__, *gibbs.__all__]
