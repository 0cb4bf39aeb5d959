r"""The exact generalisation gap of the Gibbs algorithm on a finite parameter space.

:math:`P_{W|S}\propto\pi(w)e^{-\gamma L_S(w)}` on a finite parameter space, with the exact identity
:math:`\mathrm{gen} = I_{SKL}(W;S)/\gamma` (the symmetrised KL information, mutual plus lautum
information) and the bound :math:`\mathrm{gen}\le 2\sigma^2\gamma/n` for σ-sub-Gaussian losses
(Aminian et al., arXiv:2107.13656), enumerated exactly over all dataset types.

References:
  Aminian, Bu, Toni, Rodrigues & Wornell, *An exact characterization of the generalization error for
  the Gibbs algorithm*, NeurIPS 2021, arXiv:2107.13656.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from divjax import _validate
from divjax.ib.layerwise._common import _float, _log_rate

__all__ = [
    "GibbsGeneralization",
    "gibbs_generalization",
]

Array = jax.Array
ArrayLike = jax.typing.ArrayLike


# ---------------------------------------------------------------------------------------------------
# The Gibbs algorithm on a finite parameter space.


class GibbsGeneralization(NamedTuple):
  """Exact generalisation quantities of the Gibbs algorithm (all in nats or loss units).

  Attributes:
    gen: the expected generalisation gap E[L_μ(W) − L_S(W)].
    mutual_information: I(W; S).
    lautum_information: L(W; S) = KL(P_W ⊗ P_S ‖ P_{W,S}).
    symmetrized_kl_information: I_SKL = I + L.
    sub_gaussian_bound: 2σ²γ/n with σ = (max ℓ − min ℓ)/2.

  Examples:
    Two hypotheses with 0/1 losses (σ = ½), γ = 2, n = 5: the bound is 2 · ¼ · 2/5 = 0.2:

    >>> import jax.numpy as jnp
    >>> from divjax import ib
    >>> g = ib.gibbs_generalization(jnp.array([[0.0, 1.0], [1.0, 0.0]]), jnp.array([0.7, 0.3]),
    ...                             gamma=2.0, n=5)
    >>> print(f"{float(g.sub_gaussian_bound):.4f}")
    0.2000
  """
  gen: Array                       # E[L_μ(W) − L_S(W)]
  mutual_information: Array        # I(W; S)
  lautum_information: Array        # L(W; S) = KL(P_W ⊗ P_S ‖ P_{W,S})
  symmetrized_kl_information: Array  # I_SKL = I + L
  sub_gaussian_bound: Array        # 2σ²γ/n with σ = (max ℓ − min ℓ)/2


def _compositions(n: int, k: int) -> np.ndarray:
  """All count vectors c ∈ ℕ^k with Σc = n (stars and bars), shape ``[C(n+k−1, k−1), k]``."""
  import itertools
  rows = []
  for bars in itertools.combinations(range(n + k - 1), k - 1):
    edges = (-1,) + bars + (n + k - 1,)
    rows.append([edges[j + 1] - edges[j] - 1 for j in range(k)])
  return np.asarray(rows, dtype=np.int32)


@_validate.guarded
def gibbs_generalization(losses: ArrayLike, data_probs: ArrayLike, *, gamma: ArrayLike, n: int,
                         prior_logits: ArrayLike | None = None) -> GibbsGeneralization:
  r"""Exact expected generalisation gap of the Gibbs algorithm, and the symmetrised KL information.

  Data :math:`Z\sim\mu` on a finite alphabet, :math:`S = (Z_1,\dots,Z_n)`, hypotheses w in a finite
  set with prior π and the Gibbs posterior :math:`P_{W|S}(w)\propto\pi(w)\exp(-\gamma L_S(w))`,
  :math:`L_S(w) = \frac1n\sum_i\ell(w, Z_i)`. Everything depends on S only through its type
  (the count vector), so the expectations are exact sums over the :math:`\binom{n+|\mathcal Z|-1}
  {|\mathcal Z|-1}` types weighted by multinomial probabilities. Aminian et al. (2021) show

  .. math::  \mathrm{gen} = \mathbb E[L_\mu(W) - L_S(W)] = \frac{I_{SKL}(W;S)}{\gamma},\qquad
             I_{SKL} = I(W;S) + L(W;S),

  and for a loss with range in an interval of length 2σ (σ-sub-Gaussian),
  :math:`0\le\mathrm{gen}\le 2\sigma^2\gamma/n`, an O(1/n) rate.

  Args:
    losses: ``[num_hypotheses, num_outcomes]`` loss table ℓ(w, z).
    data_probs: ``[num_outcomes]`` the data distribution μ.
    gamma: inverse temperature γ > 0 (may be traced).
    n: training-set size, a static Python int ≥ 1 (it fixes the number of types).
    prior_logits: optional ``[num_hypotheses]`` log-prior (uniform if None).

  Returns:
    A :class:`GibbsGeneralization`.

  Raises:
    ValueError: (concrete inputs only) γ ≤ 0, a non-probability μ, mismatched shapes, n < 1.

  References:
    Aminian, Bu, Toni, Rodrigues & Wornell, arXiv:2107.13656 (NeurIPS 2021).
    He, Yu & Goldfeld, arXiv:2404.03176 (Gibbs algorithm with a finite parameter space).
    Palomar & Verdú, *Lautum information*, IEEE Trans. Inf. Theory 54, 2008.

  Examples:
    The gap equals I_SKL/γ, and lies in [0, 2σ²γ/n] = [0, 0.2]:

    >>> import jax.numpy as jnp
    >>> from divjax import ib
    >>> g = ib.gibbs_generalization(jnp.array([[0.0, 1.0], [1.0, 0.0]]), jnp.array([0.7, 0.3]),
    ...                             gamma=2.0, n=5)
    >>> print(f"{float(g.gen):.4f} {float(g.symmetrized_kl_information) / 2.0:.4f}")
    0.0684 0.0684
  """
  losses = _validate.finite("losses", losses)
  _validate.ndim("losses", losses, 2)
  data_probs = _validate.probabilities("data_probs", data_probs)
  _validate.ndim("data_probs", data_probs, 1)
  _validate.last_dim("data_probs", data_probs, np.shape(losses)[1], what="losses.shape[1] outcomes")
  gamma = _validate.positive_scalar("gamma", gamma)
  n = _validate.integer("n", n, minimum=1)
  if prior_logits is not None:
    prior_logits = _validate.logits("prior_logits", prior_logits)
    _validate.ndim("prior_logits", prior_logits, 1)
    _validate.last_dim("prior_logits", prior_logits, np.shape(losses)[0],
                       what="one entry per hypothesis")
  else:
    prior_logits = np.zeros(np.shape(losses)[0])
  return _gibbs(*_float(losses, data_probs, gamma, prior_logits), n)


@jax.jit(static_argnums=(4,))
@_validate.kernel
def _gibbs(losses: Array, data_probs: Array, gamma: Array, prior_logits: Array,
           n: int) -> GibbsGeneralization:
  counts = jnp.asarray(_compositions(n, losses.shape[1]), losses.dtype)     # [T, k]
  log_mu = _log_rate(data_probs)
  log_multinomial = (jax.scipy.special.gammaln(n + 1.0) -
                     jnp.sum(jax.scipy.special.gammaln(counts + 1.0), axis=1))
  terms = jnp.where(counts > 0, counts * log_mu, 0.0)
  log_p_type = log_multinomial + jnp.sum(terms, axis=1)                         # [T]
  p_type = jnp.exp(log_p_type)
  emp = counts @ losses.T / n                                                    # [T, W]: L_S(w)
  log_post = jax.nn.log_softmax(jax.nn.log_softmax(prior_logits) - gamma * emp, axis=1)
  post = jnp.exp(log_post)
  marg = p_type @ post                                                           # P_W
  log_marg = jnp.log(marg)
  pop = losses @ data_probs                                                      # L_μ(w)
  joint = p_type[:, None] * post                                                 # P(S-type, W)
  product = p_type[:, None] * marg[None, :]                                      # P(S-type) P(W)
  gen = jnp.sum(joint * (pop[None, :] - emp))
  # 0 log 0 = 0: cells without mass (a −inf prior logit, an underflowed type) contribute nothing.
  mi = jnp.sum(jnp.where(joint > 0, joint * (log_post - log_marg[None, :]), 0.0))
  lautum = jnp.sum(jnp.where(product > 0, product * (log_marg[None, :] - log_post), 0.0))
  sigma = 0.5 * (jnp.max(losses) - jnp.min(losses))
  return GibbsGeneralization(gen=gen, mutual_information=mi, lautum_information=lautum,
                             symmetrized_kl_information=mi + lautum,
                             sub_gaussian_bound=2.0 * sigma**2 * gamma / n)
