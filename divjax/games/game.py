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
The derivations are collected on the theory page :doc:`/theory/nash_mp`.

References:
  * Munos et al., *Nash Learning from Human Feedback*, ICML 2024, arXiv:2312.00886.
  * Tiapkin et al., *Accelerating Nash Learning from Human Feedback via Mirror Prox*,
    arXiv:2505.19731 (v1).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from divjax import _deprecation, _validate
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

  Examples:
    The 2-action game in which action 0 beats action 1 with probability 0.8:

    >>> import jax.numpy as jnp
    >>> from divjax import games
    >>> game = games.PreferenceGame(jnp.array([[0.5, 0.8], [0.2, 0.5]]), jnp.asarray(1.0),
    ...                             jnp.log(jnp.array([0.5, 0.5])))
    >>> game.num_actions
    2
  """
  preference: Array
  beta: Array
  log_ref: Array

  @property
  def num_actions(self) -> int:
    """The number of actions n (static)."""
    return self.preference.shape[-1]


def _check(preference: ArrayLike, beta: ArrayLike,
           ref_logits: ArrayLike) -> tuple[ArrayLike, ArrayLike, ArrayLike]:
  """Checks (P, β, ref_logits); returns them, NaN-poisoned where a traced check fails."""
  preference = _validate.finite("preference", preference)
  _validate.ndim("preference", preference, 2)
  n = np.shape(preference)[0]
  if np.shape(preference) != (n, n):
    raise ValueError(f"preference must be square [n, n], got shape {np.shape(preference)}.")
  beta = _validate.positive_scalar("beta", beta)
  ref_logits = _validate.finite("ref_logits", ref_logits)
  _validate.ndim("ref_logits", ref_logits, 1)
  _validate.last_dim("ref_logits", ref_logits, n, what="one logit per action")
  tol = 1e-6
  if _validate.is_concrete(preference):
    p = np.asarray(preference, dtype=np.float64)
    if p.min() < 0.0 or p.max() > 1.0:
      raise ValueError(f"preference entries must lie in [0, 1], got range [{p.min():.3g}, {p.max():.3g}].")
    worst = float(np.max(np.abs(p + p.T - 1.0)))
    if worst > tol:
      raise ValueError(f"preference must satisfy P + P^T = 1 (P(y > y') + P(y' > y) = 1), but an entry "
                       f"is off by {worst:.3g}.")
  preference = _validate.traced_check(
      preference, lambda p: jnp.all((p >= 0.0) & (p <= 1.0)) & jnp.all(jnp.abs(p + p.T - 1.0) <= tol),
      f"preference must have entries in [0, 1] and satisfy P + P^T = 1 (within {tol:g}).")
  return preference, beta, ref_logits


@_validate.guarded
def preference_game(preference: ArrayLike, *, beta: ArrayLike,
                    ref_logits: ArrayLike | None = None) -> PreferenceGame:
  r"""A validated PreferenceGame.

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
    Munos et al., *Nash Learning from Human Feedback*, arXiv:2312.00886.

  Examples:
    >>> import jax.numpy as jnp
    >>> import numpy as np
    >>> from divjax import games
    >>> game = games.preference_game(jnp.array([[0.5, 0.8], [0.2, 0.5]]), beta=1.0)
    >>> print(np.round(np.exp(np.asarray(game.log_ref)), 4))  # π_ref defaults to uniform
    [0.5 0.5]
  """
  _validate.array("preference", preference)
  if ref_logits is None:
    ref_logits = jnp.zeros(np.shape(preference)[-1:], dtype=jnp.result_type(preference, float))
  _validate.array("ref_logits", ref_logits)
  preference, beta, ref_logits = _check(preference, beta, ref_logits)
  preference = jnp.asarray(preference)
  if not jnp.issubdtype(preference.dtype, jnp.floating):
    preference = preference.astype(jnp.result_type(float))
  dtype = preference.dtype
  log_ref = jax.nn.log_softmax(jnp.asarray(ref_logits, dtype))
  return PreferenceGame(preference, jnp.asarray(beta, dtype), log_ref)


# ---------------------------------------------------------------------------------------------------
# Instance generators (the divjax benchmark families; see docs/theory/nash_mp.md).


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


@_validate.guarded
def uniform(key: Array, n: int, *, beta: ArrayLike, reference: str = "uniform") -> PreferenceGame:
  r"""Random-uniform preferences: P_ij ~ U[0, 1] for i < j and P_ji = 1 − P_ij.

  Args:
    key: PRNG key (split for P and for π_ref).
    n: number of actions (static).
    beta: β > 0.
    reference: ``"uniform"`` or ``"dirichlet"`` (a Dirichlet(1) draw of π_ref).

  Returns:
    A :class:`PreferenceGame` in the default float dtype.

  References:
    Tiapkin et al., arXiv:2505.19731 (v1), for the setting; the instance family is divjax's own
    benchmark protocol (:doc:`/theory/nash_mp`).

  Examples:
    >>> import jax
    >>> import numpy as np
    >>> from divjax import games
    >>> P = np.asarray(games.uniform(jax.random.key(0), 4, beta=0.1).preference)
    >>> print(np.allclose(P + P.T, 1.0), np.diag(P))
    True [0.5 0.5 0.5 0.5]
  """
  n = _validate.integer("n", n, minimum=2)
  beta = _validate.positive_scalar("beta", beta)
  k_p, k_r = jax.random.split(key)
  dtype = _dtype()
  P = _from_skew(jax.random.uniform(k_p, (n, n), dtype), n)
  return PreferenceGame(P, jnp.asarray(beta, dtype), jax.nn.log_softmax(_reference(k_r, n, reference,
                                                                                      dtype)))


@_validate.guarded
def skew_sigmoid(key: Array, n: int, *, beta: ArrayLike, scale: float = 1.0,
                 reference: str = "uniform") -> PreferenceGame:
  r"""Skew-sigmoid preferences P = σ(A), A skew-symmetric with N(0, scale²) entries.

  :math:`\sigma(-a) = 1 - \sigma(a)` makes :math:`P + P^\top = 1`.

  Args:
    key: PRNG key.
    n: number of actions (static).
    beta: β > 0.
    scale: standard deviation of the entries of A above the diagonal.
    reference: ``"uniform"`` or ``"dirichlet"``.

  References:
    Tiapkin et al., arXiv:2505.19731 (v1), for the setting; the instance family is divjax's own
    benchmark protocol (:doc:`/theory/nash_mp`).

  Examples:
    >>> import jax
    >>> import numpy as np
    >>> from divjax import games
    >>> P = np.asarray(games.skew_sigmoid(jax.random.key(0), 4, beta=0.1).preference)
    >>> print(np.allclose(P + P.T, 1.0), np.diag(P))
    True [0.5 0.5 0.5 0.5]
  """
  n = _validate.integer("n", n, minimum=2)
  beta = _validate.positive_scalar("beta", beta)
  k_p, k_r = jax.random.split(key)
  dtype = _dtype()
  g = scale * jax.random.normal(k_p, (n, n), dtype)
  upper = jnp.triu(g, k=1)
  A = upper - upper.T
  return PreferenceGame(jax.nn.sigmoid(A), jnp.asarray(beta, dtype),
                        jax.nn.log_softmax(_reference(k_r, n, reference, dtype)))


@_validate.guarded
def bradley_terry(key: Array, n: int, *, beta: ArrayLike, scale: float = 1.0,
                  reference: str = "uniform") -> PreferenceGame:
  r"""Bradley–Terry preferences P_ij = σ(r_i − r_j) with scores r ~ N(0, scale² I).

  A transitive game: its unregularised Nash equilibrium is the best action.

  Args:
    key: PRNG key.
    n: number of actions (static).
    beta: β > 0.
    scale: standard deviation of the scores r.
    reference: ``"uniform"`` or ``"dirichlet"``.

  References:
    Bradley & Terry, *Rank analysis of incomplete block designs*, Biometrika 39 (1952).

  Examples:
    The action with the highest average win rate beats every other action:

    >>> import jax
    >>> import numpy as np
    >>> from divjax import games
    >>> P = np.asarray(games.bradley_terry(jax.random.key(0), 4, beta=0.1).preference)
    >>> best = np.argmax(P.mean(axis=1))
    >>> print(bool(np.all(np.delete(P[best], best) > 0.5)))
    True
  """
  n = _validate.integer("n", n, minimum=2)
  beta = _validate.positive_scalar("beta", beta)
  k_p, k_r = jax.random.split(key)
  dtype = _dtype()
  r = scale * jax.random.normal(k_p, (n,), dtype)
  return PreferenceGame(jax.nn.sigmoid(r[:, None] - r[None, :]), jnp.asarray(beta, dtype),
                        jax.nn.log_softmax(_reference(k_r, n, reference, dtype)))


@_validate.guarded
def cyclic(key: Array, n: int, *, beta: ArrayLike, reference: str = "dirichlet") -> PreferenceGame:
  r"""The cyclic tournament: action i beats the next (n−1)/2 actions cyclically (n odd).

  :math:`P_{ij} = 1` if :math:`(j - i) \bmod n \in \{1, \dots, (n-1)/2\}`, 0 if
  :math:`(i - j) \bmod n` is, and ½ on the diagonal — a generalised rock–paper–scissors, the
  instance on which the step-size condition η ≤ 2β of Nash-MP is sharp (:doc:`/theory/nash_mp`).
  The uniform policy is the equilibrium whenever π_ref is uniform (then KL(π*‖π_ref) = 0 and
  nothing is learned), so π_ref defaults to a Dirichlet(1) draw.

  Args:
    key: PRNG key (used for π_ref).
    n: odd number of actions ≥ 3.
    beta: β > 0.
    reference: ``"dirichlet"`` (default) or ``"uniform"``.

  Raises:
    ValueError: if n is even or < 3.

  Examples:
    With n = 3 it is rock–paper–scissors:

    >>> import jax
    >>> import numpy as np
    >>> from divjax import games
    >>> print(np.asarray(games.cyclic(jax.random.key(0), 3, beta=0.1).preference))
    [[0.5 1.  0. ]
     [0.  0.5 1. ]
     [1.  0.  0.5]]
  """
  n = _validate.integer("n", n, minimum=3)
  if n % 2 == 0:
    raise ValueError(f"n must be odd for a cyclic tournament, got {n}.")
  beta = _validate.positive_scalar("beta", beta)
  dtype = _dtype()
  d = (np.arange(n)[None, :] - np.arange(n)[:, None]) % n
  P = np.where(d == 0, 0.5, np.where(d <= (n - 1) // 2, 1.0, 0.0))
  return PreferenceGame(jnp.asarray(P, dtype), jnp.asarray(beta, dtype),
                        jax.nn.log_softmax(_reference(key, n, reference, dtype)))


# ---------------------------------------------------------------------------------------------------
# Best response, exploitability and distances.


def _log_policy(game: PreferenceGame, log_pi: Any, name: str = "log_pi") -> Array:
  """``log_pi`` must be ``[n]`` log-probabilities of a policy of ``game`` (NaN when traced and bad)."""
  _validate.array(name, log_pi)
  log_pi = jnp.asarray(_validate.as_array(log_pi))
  n = np.shape(game.preference)[-1]
  if log_pi.ndim < 1 or log_pi.shape[-1] != n:
    raise ValueError(f"{name} must have shape [n] = [{n}] (one log-probability per response of the "
                     f"game), got {log_pi.shape}.")
  return _validate.logits(name, log_pi)


def _log_pair(name_p: str, log_p: Any, name_q: str, log_q: Any, *,
              finite: bool = False) -> tuple[Array, Array]:
  """Checks two arrays of logits along the last axis that broadcast; returns them as arrays."""
  log_p, log_q = _validate.as_array(log_p), _validate.as_array(log_q)
  _validate.broadcastable(name_p, log_p, name_q, log_q)
  check = _validate.finite if finite else _validate.logits
  return jnp.asarray(check(name_p, log_p)), jnp.asarray(check(name_q, log_q))


@_validate.guarded
def win_rates(game: PreferenceGame, log_pi: Array) -> Array:
  r"""The win-rate vector (Pπ)_y = P(y ≻ π): one preference query.

  Args:
    game: the game.
    log_pi: ``[n]`` log-probabilities of π.

  Returns:
    ``[n]`` win rates in [0, 1].

  Examples:
    Against the uniform policy, every action of rock–paper–scissors wins half the time:

    >>> import jax
    >>> import jax.numpy as jnp
    >>> import numpy as np
    >>> from divjax import games
    >>> game = games.cyclic(jax.random.key(0), 3, beta=0.1)
    >>> print(np.round(np.asarray(games.win_rates(game, jnp.log(jnp.ones(3) / 3))), 4))
    [0.5 0.5 0.5]
  """
  log_pi = _log_policy(game, log_pi)
  return game.preference @ jnp.exp(log_pi)


@_validate.guarded
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
    Munos et al., arXiv:2312.00886.

  Examples:
    Against the uniform policy the win rates are Pπ = (0.65, 0.35), so with β = 1 the best response
    is softmax(0.65, 0.35) = (σ(0.3), 1 − σ(0.3)):

    >>> import jax.numpy as jnp
    >>> import numpy as np
    >>> from divjax import games
    >>> game = games.preference_game(jnp.array([[0.5, 0.8], [0.2, 0.5]]), beta=1.0)
    >>> br = games.best_response(game, jnp.log(jnp.array([0.5, 0.5])))
    >>> print(np.round(np.exp(np.asarray(br)), 4))
    [0.5744 0.4256]
  """
  log_pi = _log_policy(game, log_pi)
  return jax.nn.log_softmax(game.log_ref + win_rates(game, log_pi) / game.beta)


@_validate.guarded
def exploitability(game: PreferenceGame, log_pi: Array) -> Array:
  r"""Exploitability gap of π in the regularised game, computed as β KL(π‖BR_β(π)).

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
    Tiapkin et al., arXiv:2505.19731 (v1), for the convergence of the gap; the identity and the
    sandwich are derived on :doc:`/theory/nash_mp`.

  Examples:
    In this 2-action game (Pπ)_0 − (Pπ)_1 = 0.3 for every π, so the best response (σ(0.3/β),
    1 − σ(0.3/β)) does not depend on π; it is the equilibrium, where the gap vanishes:

    >>> import jax.numpy as jnp
    >>> from divjax import games
    >>> game = games.preference_game(jnp.array([[0.5, 0.8], [0.2, 0.5]]), beta=1.0)
    >>> uniform = jnp.log(jnp.array([0.5, 0.5]))
    >>> star = games.best_response(game, uniform)
    >>> for pi in (uniform, star):
    ...   print(f"{float(games.exploitability(game, pi)):.4f}")
    0.0112
    0.0000
  """
  log_pi = _log_policy(game, log_pi)
  return game.beta * kl_divergence(log_pi, best_response(game, log_pi), logits=True)


@_validate.guarded
def exploitability_closed_form(game: PreferenceGame, log_pi: Array) -> Array:
  r"""Exploitability from its definition, the reference for the identity behind exploitability.

  .. math::  \mathrm{Gap}(\pi) = \beta\log\sum_y \pi_{\mathrm{ref}}(y)e^{(P\pi)_y/\beta}
             + \beta\,\mathrm{KL}(\pi\|\pi_{\mathrm{ref}}) - \pi^\top P\pi.

  Equal to :func:`exploitability` (uses :math:`\pi^\top P\pi`, which is ½ for a valid game); it cancels
  catastrophically near the equilibrium and is kept to test the identity.

  Args:
    game: the game.
    log_pi: ``[n]`` log-probabilities of π.

  Returns:
    Scalar Gap.

  References:
    Munos et al., arXiv:2312.00886.

  Examples:
    Away from the equilibrium both forms agree:

    >>> import jax.numpy as jnp
    >>> from divjax import games
    >>> game = games.preference_game(jnp.array([[0.5, 0.8], [0.2, 0.5]]), beta=1.0)
    >>> uniform = jnp.log(jnp.array([0.5, 0.5]))
    >>> print(f"{float(games.exploitability_closed_form(game, uniform)):.4f}")
    0.0112
  """
  log_pi = _log_policy(game, log_pi)
  pi = jnp.exp(log_pi)
  w = game.preference @ pi
  lse = jax.nn.logsumexp(game.log_ref + w / game.beta)
  return game.beta * lse + game.beta * kl_divergence(log_pi, game.log_ref, logits=True) - pi @ w


@_validate.guarded
def span_seminorm(log_p: Array, log_q: Array) -> Array:
  r"""Span semi-norm of a log-probability difference, max_y(ℓ_p − ℓ_q) − min_y(ℓ_p − ℓ_q).

  Invariant to adding a constant to either argument (so to normalisation).

  Args:
    log_p: ``[..., n]`` log-probabilities (or logits) ℓ_p.
    log_q: ``[..., n]`` log-probabilities (or logits) ℓ_q.

  Returns:
    The span over the last axis.

  References:
    Tiapkin et al., arXiv:2505.19731 (v1).

  Examples:
    The log-ratio of (½, ¼, ¼) to the uniform policy on 3 actions ranges over log(3/2) and
    log(3/4), a span of log 2:

    >>> import jax.numpy as jnp
    >>> from divjax import games
    >>> span = games.span_seminorm(jnp.log(jnp.array([0.5, 0.25, 0.25])), jnp.log(jnp.ones(3) / 3))
    >>> print(f"{float(span):.4f}")
    0.6931
  """
  log_p, log_q = _log_pair("log_p", log_p, "log_q", log_q, finite=True)
  d = log_p - log_q
  return jnp.max(d, axis=-1) - jnp.min(d, axis=-1)


def _kl_to(log_p: Array, log_q: Array) -> Array:
  return kl_divergence(log_p, log_q, logits=True)


kl_to = _deprecation.alias(_kl_to, "games.kl_to",
                           "divjax.divergences.kl_divergence(log_p, log_q, logits=True)")
