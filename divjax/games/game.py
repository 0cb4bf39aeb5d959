r"""β-regularised preference games, their instances, best responses and distance metrics.

Symbols (used throughout :mod:`divjax.games`):

* :math:`P \in [0,1]^{n\times n}` — the preference matrix, :math:`P_{yy'} = \mathbb P(y \succ y')`,
  with :math:`P + P^\top = \mathbf 1\mathbf 1^\top` (so the diagonal is ½ and
  :math:`\pi^\top P \pi = \tfrac12` for every policy π);
* :math:`P\pi` — the win-rate vector, :math:`(P\pi)_y = \mathbb P(y \succ \pi)`: one *preference query*;
* :math:`\beta > 0` and :math:`\pi_{\mathrm{ref}}` (full support) — the KL regularisation;
* :math:`\ell = \log\pi` — policies are carried as normalised log-probabilities (logits).

The β-regularised game (Munos et al. 2023) is the symmetric constant-sum game

.. math::  P_\beta(\pi \succ \pi') = \pi^\top P \pi' - \beta\,\mathrm{KL}(\pi\|\pi_{\mathrm{ref}})
           + \beta\,\mathrm{KL}(\pi'\|\pi_{\mathrm{ref}}),

strongly monotone thanks to the KL term, with a unique Nash equilibrium :math:`\pi^*_\beta`, the fixed
point of the best response :math:`\mathrm{BR}_\beta(\pi) = \mathrm{softmax}(\ell_{\mathrm{ref}} + P\pi/\beta)`.

References:
  R. Munos et al., *Nash Learning from Human Feedback*, ICML 2024, arXiv:2312.00886.
  D. Tiapkin et al., *Accelerating Nash Learning from Human Feedback via Mirror Prox*, arXiv:2505.19731 (v1).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from divjax import _validate
from divjax.divergences import kl_divergence

__all__ = [
    "PreferenceGame",
    "preference_game",
    "uniform",
    "skew_sigmoid",
    "bradley_terry",
    "cyclic",
    "win_rates",
    "best_response",
    "exploitability",
    "exploitability_closed_form",
    "kl_to",
    "span_seminorm",
]

Array = jax.Array
ArrayLike = Any


class PreferenceGame(NamedTuple):
  """A β-regularised preference game (a pytree: ``jit``, ``vmap`` over stacked games, ``grad``).

  Build it with :func:`preference_game` (which validates) or an instance generator.

  Attributes:
    preference: ``[n, n]`` matrix P with entries in [0, 1] and P + Pᵀ = 1.
    beta: scalar β > 0.
    log_ref: ``[n]`` normalised log-probabilities of π_ref (finite: full support).
  """
  preference: Array
  beta: Array
  log_ref: Array

  @property
  def num_actions(self) -> int:
    return self.preference.shape[-1]


def _check(preference: ArrayLike, beta: ArrayLike, ref_logits: ArrayLike) -> None:
  _validate.finite("preference", preference)
  _validate.ndim("preference", preference, 2)
  n = np.shape(preference)[0]
  if np.shape(preference) != (n, n):
    raise ValueError(f"preference must be square [n, n], got shape {np.shape(preference)}.")
  _validate.positive_scalar("beta", beta)
  _validate.finite("ref_logits", ref_logits)
  _validate.ndim("ref_logits", ref_logits, 1)
  _validate.last_dim("ref_logits", ref_logits, n, what="one logit per action")
  if _validate.is_concrete(preference):
    p = np.asarray(preference, dtype=np.float64)
    tol = 1e-6
    if p.min() < 0.0 or p.max() > 1.0:
      raise ValueError(f"preference entries must lie in [0, 1], got range [{p.min():.3g}, {p.max():.3g}].")
    worst = float(np.max(np.abs(p + p.T - 1.0)))
    if worst > tol:
      raise ValueError(f"preference must satisfy P + P^T = 1 (P(y > y') + P(y' > y) = 1), but an entry "
                       f"is off by {worst:.3g}.")


def preference_game(preference: ArrayLike, *, beta: ArrayLike,
                    ref_logits: ArrayLike | None = None) -> PreferenceGame:
  r"""A validated :class:`PreferenceGame`.

  Args:
    preference: ``[n, n]`` matrix :math:`P_{yy'} = \mathbb P(y \succ y')`, entries in [0, 1],
      :math:`P + P^\top = 1` (checked to 1e-6 on concrete inputs).
    beta: the KL-regularisation strength β > 0.
    ref_logits: ``[n]`` unnormalised log-probabilities of π_ref, finite (π_ref must have full support:
      the equilibrium and every rate below need it). Default: uniform.

  Returns:
    The game, with ``log_ref`` normalised by ``log_softmax``.

  Raises:
    ValueError: on a non-square or non-finite P, entries outside [0, 1], P + Pᵀ ≠ 1, β ≤ 0, or
      ``ref_logits`` with ``-inf`` (zero probability), NaN or the wrong length.

  References:
    R. Munos et al., *Nash Learning from Human Feedback*, arXiv:2312.00886.
  """
  _validate.array("preference", preference)
  if ref_logits is None:
    ref_logits = jnp.zeros(np.shape(preference)[-1:], dtype=jnp.result_type(preference, float))
  _validate.array("ref_logits", ref_logits)
  _check(preference, beta, ref_logits)
  preference = jnp.asarray(preference)
  if not jnp.issubdtype(preference.dtype, jnp.floating):
    preference = preference.astype(jnp.result_type(float))
  dtype = preference.dtype
  log_ref = jax.nn.log_softmax(jnp.asarray(ref_logits, dtype))
  return PreferenceGame(preference, jnp.asarray(beta, dtype), log_ref)


# ---------------------------------------------------------------------------------------------------
# Instance generators (spec A.7).


def _reference(key: Array, n: int, reference: str, dtype) -> Array:
  if reference == "uniform":
    return jnp.zeros((n,), dtype)
  if reference == "dirichlet":
    # Dirichlet(1, …, 1) = i.i.d. Exp(1) draws, normalised (log-normalised by the caller); this avoids
    # the gamma rejection sampler, which is slow to compile.
    return jnp.log(jax.random.exponential(key, (n,), dtype))
  raise ValueError(f"reference must be 'uniform' or 'dirichlet', got {reference!r}.")


def _dtype():
  return jnp.result_type(float)


def _from_skew(skew_upper: Array, n: int) -> Array:
  """P from its strict upper triangle: P_ij for i < j, P_ji = 1 − P_ij, diagonal ½."""
  upper = jnp.triu(skew_upper, k=1)
  lower_mask = jnp.tril(jnp.ones((n, n), bool), k=-1)
  return jnp.where(lower_mask, 1.0 - upper.T, upper) + 0.5 * jnp.eye(n, dtype=skew_upper.dtype)


def uniform(key: Array, n: int, *, beta: ArrayLike, reference: str = "uniform") -> PreferenceGame:
  r"""Random-uniform preferences: :math:`P_{ij} \sim U[0,1]` for i < j, :math:`P_{ji} = 1 - P_{ij}`.

  Args:
    key: PRNG key (split for P and for π_ref).
    n: number of actions (static).
    beta: β > 0.
    reference: ``"uniform"`` or ``"dirichlet"`` (a Dirichlet(1) draw of π_ref).

  Returns:
    A :class:`PreferenceGame` in the default float dtype.

  References:
    D. Tiapkin et al., arXiv:2505.19731 (v1); divjax protocol of spec A.7.
  """
  n = _validate.integer("n", n, minimum=2)
  _validate.positive_scalar("beta", beta)
  k_p, k_r = jax.random.split(key)
  dtype = _dtype()
  P = _from_skew(jax.random.uniform(k_p, (n, n), dtype), n)
  return PreferenceGame(P, jnp.asarray(beta, dtype), jax.nn.log_softmax(_reference(k_r, n, reference,
                                                                                      dtype)))


def skew_sigmoid(key: Array, n: int, *, beta: ArrayLike, scale: float = 1.0,
                 reference: str = "uniform") -> PreferenceGame:
  r"""Skew-sigmoid preferences :math:`P = \sigma(A)`, A skew-symmetric with N(0, scale²) entries.

  :math:`\sigma(-a) = 1 - \sigma(a)` makes :math:`P + P^\top = 1`.

  Args:
    key: PRNG key.
    n: number of actions (static).
    beta: β > 0.
    scale: standard deviation of the entries of A above the diagonal.
    reference: ``"uniform"`` or ``"dirichlet"``.

  References:
    D. Tiapkin et al., arXiv:2505.19731 (v1); divjax protocol of spec A.7.
  """
  n = _validate.integer("n", n, minimum=2)
  _validate.positive_scalar("beta", beta)
  k_p, k_r = jax.random.split(key)
  dtype = _dtype()
  g = scale * jax.random.normal(k_p, (n, n), dtype)
  upper = jnp.triu(g, k=1)
  A = upper - upper.T
  return PreferenceGame(jax.nn.sigmoid(A), jnp.asarray(beta, dtype),
                        jax.nn.log_softmax(_reference(k_r, n, reference, dtype)))


def bradley_terry(key: Array, n: int, *, beta: ArrayLike, scale: float = 1.0,
                  reference: str = "uniform") -> PreferenceGame:
  r"""Bradley–Terry preferences :math:`P_{ij} = \sigma(r_i - r_j)`, :math:`r \sim N(0, \mathrm{scale}^2 I)`.

  A transitive game: its unregularised Nash equilibrium is the best action.

  References:
    R. A. Bradley & M. E. Terry, *Rank analysis of incomplete block designs*, Biometrika 39 (1952).
  """
  n = _validate.integer("n", n, minimum=2)
  _validate.positive_scalar("beta", beta)
  k_p, k_r = jax.random.split(key)
  dtype = _dtype()
  r = scale * jax.random.normal(k_p, (n,), dtype)
  return PreferenceGame(jax.nn.sigmoid(r[:, None] - r[None, :]), jnp.asarray(beta, dtype),
                        jax.nn.log_softmax(_reference(k_r, n, reference, dtype)))


def cyclic(key: Array, n: int, *, beta: ArrayLike, reference: str = "dirichlet") -> PreferenceGame:
  r"""The cyclic tournament: action i beats the next (n−1)/2 actions cyclically (n odd).

  :math:`P_{ij} = 1` if :math:`(j - i) \bmod n \in \{1, \dots, (n-1)/2\}`, 0 if
  :math:`(i - j) \bmod n` is, and ½ on the diagonal — a generalised rock–paper–scissors, the hard
  instance of spec A.3. The uniform policy is the equilibrium whenever π_ref is uniform (then
  KL(π*‖π_ref) = 0 and nothing is learned), so π_ref defaults to a Dirichlet(1) draw.

  Args:
    key: PRNG key (used for π_ref).
    n: odd number of actions ≥ 3.
    beta: β > 0.
    reference: ``"dirichlet"`` (default) or ``"uniform"``.

  Raises:
    ValueError: if n is even or < 3.
  """
  n = _validate.integer("n", n, minimum=3)
  if n % 2 == 0:
    raise ValueError(f"n must be odd for a cyclic tournament, got {n}.")
  _validate.positive_scalar("beta", beta)
  dtype = _dtype()
  d = (np.arange(n)[None, :] - np.arange(n)[:, None]) % n
  P = np.where(d == 0, 0.5, np.where(d <= (n - 1) // 2, 1.0, 0.0))
  return PreferenceGame(jnp.asarray(P, dtype), jnp.asarray(beta, dtype),
                        jax.nn.log_softmax(_reference(key, n, reference, dtype)))


# ---------------------------------------------------------------------------------------------------
# Best response, exploitability and distances.


def win_rates(game: PreferenceGame, log_pi: Array) -> Array:
  r"""The win-rate vector :math:`(P\pi)_y = \mathbb P(y \succ \pi)` — one preference query.

  Args:
    game: the game.
    log_pi: ``[n]`` log-probabilities of π.

  Returns:
    ``[n]`` win rates in [0, 1].
  """
  return game.preference @ jnp.exp(log_pi)


def best_response(game: PreferenceGame, log_pi: Array) -> Array:
  r"""The regularised best response, in log-probabilities.

  .. math::  \mathrm{BR}_\beta(\pi) = \arg\max_{\pi'} \pi'^\top P\pi - \beta\,\mathrm{KL}(\pi'\|\pi_{\mathrm{ref}})
             = \mathrm{softmax}(\ell_{\mathrm{ref}} + P\pi/\beta)

  Args:
    game: the game.
    log_pi: ``[n]`` log-probabilities of π.

  Returns:
    ``[n]`` normalised log-probabilities of BR_β(π).

  References:
    R. Munos et al., arXiv:2312.00886.
  """
  return jax.nn.log_softmax(game.log_ref + win_rates(game, log_pi) / game.beta)


def kl_to(log_p: Array, log_q: Array) -> Array:
  r"""KL(p‖q) between policies given as log-probabilities, cancellation-free (accurate to 1e-30).

  A thin wrapper over :func:`divjax.divergences.kl_divergence` with ``logits=True``:
  :math:`\sum_i p_i(\operatorname{expm1}(-\delta_i) + \delta_i)`, :math:`\delta = \ell_p - \ell_q`.
  """
  return kl_divergence(log_p, log_q, logits=True)


def exploitability(game: PreferenceGame, log_pi: Array) -> Array:
  r"""Exploitability gap of π in the regularised game, as :math:`\beta\,\mathrm{KL}(\pi\|\mathrm{BR}_\beta(\pi))`.

  .. math::  \mathrm{Gap}(\pi) = \max_{\pi'} P_\beta(\pi' \succ \pi) - \tfrac12
             = \beta\log\sum_y \pi_{\mathrm{ref}}(y)e^{(P\pi)_y/\beta} + \beta\,\mathrm{KL}(\pi\|\pi_{\mathrm{ref}}) - \tfrac12
             = \beta\,\mathrm{KL}(\pi\,\|\,\mathrm{BR}_\beta(\pi)).

  The last form (used here) is a sum of non-negative terms, so it stays accurate as the gap goes to 0,
  where the middle form (:func:`exploitability_closed_form`) cancels to ~1e-16. Sandwich:
  :math:`\beta\,\mathrm{KL}(\pi\|\pi^*) \le \mathrm{Gap}(\pi) \le \beta\,\mathrm{KL}(\pi\|\pi^*)
  + \mathrm{KL}(\pi^*\|\pi)/(4\beta)`.

  Args:
    game: the game.
    log_pi: ``[n]`` log-probabilities of π.

  Returns:
    Scalar Gap ≥ 0, zero exactly at the equilibrium.

  References:
    D. Tiapkin et al., arXiv:2505.19731 (v1) (gap convergence); spec A.3 for the identity.
  """
  return game.beta * kl_to(log_pi, best_response(game, log_pi))


def exploitability_closed_form(game: PreferenceGame, log_pi: Array) -> Array:
  r"""Exploitability from its definition: :math:`\beta\log\sum_y \pi_{\mathrm{ref}}e^{(P\pi)_y/\beta}
  + \beta\,\mathrm{KL}(\pi\|\pi_{\mathrm{ref}}) - \pi^\top P\pi`.

  Equal to :func:`exploitability` (uses :math:`\pi^\top P\pi`, which is ½ for a valid game); it cancels
  catastrophically near the equilibrium and is kept to test the identity.

  References:
    R. Munos et al., arXiv:2312.00886.
  """
  pi = jnp.exp(log_pi)
  w = game.preference @ pi
  lse = jax.nn.logsumexp(game.log_ref + w / game.beta)
  return game.beta * lse + game.beta * kl_to(log_pi, game.log_ref) - pi @ w


def span_seminorm(log_p: Array, log_q: Array) -> Array:
  r"""Span semi-norm of a log-probability difference, :math:`\max_y(\ell_p-\ell_q) - \min_y(\ell_p-\ell_q)`.

  Invariant to adding a constant to either argument (so to normalisation).

  References:
    D. Tiapkin et al., arXiv:2505.19731 (v1).
  """
  d = log_p - log_q
  return jnp.max(d, axis=-1) - jnp.min(d, axis=-1)
