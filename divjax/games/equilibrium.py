r"""The exact regularised Nash equilibrium π*_β: Nash-MP warm start, then Newton on the fixed point.

π*_β is the unique fixed point of the best response, :math:`\pi^* = \mathrm{softmax}(\ell_{\mathrm{ref}}
+ P\pi^*/\beta)`. With unknowns :math:`x = \log\pi^*` and a normaliser c, Newton solves the n + 1
equations

.. math::  F(x, c) = \begin{pmatrix} x - \ell_{\mathrm{ref}} - P e^x/\beta - c\,\mathbf 1 \\
           \mathbf 1^\top e^x - 1\end{pmatrix} = 0,\qquad
           J = \begin{pmatrix} I - P\,\mathrm{diag}(\pi)/\beta & -\mathbf 1 \\ \pi^\top & 0\end{pmatrix}.

Plain fixed-point iteration stalls at a residual of about 1e-13/β (round-off on Pπ/β) and diverges for
small β; Nash-MP at η = 2β brings the iterate into Newton's basin, and Newton converges quadratically to
round-off. Each Newton step is accepted only if it lowers the residual (a safeguard for tiny β).
The fixed-point equations and the Jacobian are derived on :doc:`/theory/nash_mp`.

References:
  * Tiapkin et al., *Accelerating Nash Learning from Human Feedback via Mirror Prox*,
    arXiv:2505.19731 (v1).
  * Munos et al., *Nash Learning from Human Feedback*, arXiv:2312.00886 (existence and uniqueness).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from divjax import _linalg, _validate
from divjax.games import _solver
from divjax.games.game import PreferenceGame, _log_policy, best_response

__all__ = ["EquilibriumResult", "fixed_point_residual", "solve_equilibrium"]

Array = jax.Array


class EquilibriumResult(NamedTuple):
  """Output of solve_equilibrium.

  Attributes:
    log_pi: ``[n]`` normalised log-probabilities of π*_β.
    residual: ‖log BR_β(π) − log π‖_∞ at the returned point.
    warm_start_steps: Nash-MP iterations used before Newton.
    converged: residual ≤ tol.

  Examples:
    >>> import jax
    >>> from divjax import games
    >>> result = games.solve_equilibrium(games.cyclic(jax.random.key(0), 5, beta=0.1))
    >>> print(bool(result.converged), float(result.residual) < 1e-4)
    True True
  """
  log_pi: Array
  residual: Array
  warm_start_steps: Array
  converged: Array


@_validate.guarded
def fixed_point_residual(game: PreferenceGame, log_pi: Array) -> Array:
  r"""The equilibrium residual in logits, ‖log BR_β(π) − log π‖_∞.

  Args:
    game: the game.
    log_pi: ``[n]`` log-probabilities of π.

  Returns:
    The scalar residual, zero exactly at the equilibrium.

  Examples:
    At the uniform policy of this 2-action game the best response is (σ(0.3), 1 − σ(0.3)), so the
    residual is ``|log(2(1 − σ(0.3)))|``:

    >>> import jax.numpy as jnp
    >>> from divjax import games
    >>> game = games.preference_game(jnp.array([[0.5, 0.8], [0.2, 0.5]]), beta=1.0)
    >>> print(f"{float(games.fixed_point_residual(game, jnp.log(jnp.array([0.5, 0.5])))):.4f}")
    0.1612
  """
  log_pi = _log_policy(game, log_pi)
  return jnp.max(jnp.abs(best_response(game, log_pi) - log_pi))


def _default_tol(game: PreferenceGame) -> Array:
  # Round-off on Pπ/β is ~eps/β: the tolerance is relative to 1/β.
  eps = 1e-13 if game.log_ref.dtype == jnp.float64 else 2e-5
  return eps * jnp.maximum(1.0, 1.0 / game.beta)


@_validate.guarded
def solve_equilibrium(game: PreferenceGame, *, tol: float | None = None, warm_start_tol: float = 1e-4,
                      max_warm_start_steps: int = 20_000, newton_steps: int = 12) -> EquilibriumResult:
  r"""The β-regularised Nash equilibrium π*_β to round-off.

  Phase 1: Nash-MP at η = 2β from π_ref (``lax.while_loop``) until the fixed-point residual is below
  ``warm_start_tol`` (or ``max_warm_start_steps``). Phase 2: ``newton_steps`` safeguarded Newton steps
  on :math:`F(x, c) = 0` (module docstring), each a dense ``[n+1, n+1]`` solve.

  In float64 the residual reaches ≤ 1e-11 (typically ~1e-15) for n ≤ 1000 and β ≥ 0.003. Under
  ``vmap`` the warm start runs until every problem of the batch has converged.

  Args:
    game: the game.
    tol: residual tolerance for ``converged``; default 1e-13·max(1, 1/β) in float64, 2e-5·max(1, 1/β)
      in float32.
    warm_start_tol: residual at which Newton takes over.
    max_warm_start_steps: cap on Nash-MP iterations.
    newton_steps: Newton iterations (fixed count; a rejected step leaves the iterate unchanged).

  Returns:
    An :class:`EquilibriumResult`.

  References:
    Tiapkin et al., arXiv:2505.19731 (v1); Munos et al., arXiv:2312.00886.

  Examples:
    In a 2-action game with P(0 ≻ 1) = 0.8 and uniform π_ref, the best response is
    (σ(0.3/β), 1 − σ(0.3/β)) whatever the opponent, so that is π*_β; at β = ½, σ(0.6) = 0.6457:

    >>> import jax.numpy as jnp
    >>> import numpy as np
    >>> from divjax import games
    >>> game = games.preference_game(jnp.array([[0.5, 0.8], [0.2, 0.5]]), beta=0.5)
    >>> print(np.round(np.exp(np.asarray(games.solve_equilibrium(game).log_pi)), 4))
    [0.6457 0.3543]
  """
  max_warm_start_steps = _validate.integer("max_warm_start_steps", max_warm_start_steps, minimum=0)
  newton_steps = _validate.integer("newton_steps", newton_steps, minimum=0)
  warm_start_tol = _validate.positive_scalar("warm_start_tol", warm_start_tol)
  lam = 2.0 * game.beta / (1.0 + 2.0 * game.beta)  # Nash-MP at its theory step η = 2β
  state0 = _solver.init_state(game)

  def warm_cond(carry):
    state, res = carry
    return (res > warm_start_tol) & (state.step < max_warm_start_steps)

  def warm_body(carry):
    state, _ = carry
    state = _solver.advance(state, _solver.mirror_prox_step(game, state.log_pi, lam), 2)
    return state, fixed_point_residual(game, state.log_pi)

  state, _ = jax.lax.while_loop(warm_cond, warm_body,
                                (state0, fixed_point_residual(game, state0.log_pi)))
  n = game.preference.shape[-1]
  dtype = game.log_ref.dtype
  eye = jnp.eye(n, dtype=dtype)
  ones = jnp.ones((n, 1), dtype)

  def newton(carry, _):
    x, res = carry
    pi = jnp.exp(x)
    w = game.preference @ pi
    c = jax.nn.logsumexp(game.log_ref + w / game.beta)  # the normaliser of BR at this x
    F = jnp.concatenate([x - game.log_ref - w / game.beta + c, jnp.sum(pi, keepdims=True) - 1.0])
    J = jnp.block([[eye - game.preference * pi[None, :] / game.beta, -ones],
                   [pi[None, :], jnp.zeros((1, 1), dtype)]])
    delta = _linalg.solve(J, F)  # not jnp.linalg.solve: batched LAPACK can deadlock on multi-device CPU
    x_new = jax.nn.log_softmax(x - delta[:n])
    res_new = fixed_point_residual(game, x_new)
    better = jnp.isfinite(res_new) & (res_new < res)
    return (jnp.where(better, x_new, x), jnp.where(better, res_new, res)), None

  x0 = state.log_pi
  (x, res), _ = jax.lax.scan(newton, (x0, fixed_point_residual(game, x0)), None, length=newton_steps)
  tol = _default_tol(game) if tol is None else tol
  return EquilibriumResult(x, res, state.step, res <= tol)
