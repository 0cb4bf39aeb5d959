r"""Magnetic mirror descent (MMD) / regularised online mirror descent on the preference game.

.. math::  \pi_{t+1} = \arg\max_\pi\ \eta\big[\pi^\top P\pi_t - \beta\,\mathrm{KL}(\pi\|\pi_{\mathrm{ref}})\big]
           - \mathrm{KL}(\pi\|\pi_t),\qquad
           \ell_{t+1} = \frac{\ell_t + \eta\beta\,\ell_{\mathrm{ref}} + \eta\,P\pi_t}{1+\eta\beta} - \log Z.

One preference query per iteration. Linear convergence with factor 1/(1+ηβ) for η ≲ β (the step must
shrink with β), i.e. a query complexity :math:`O(\beta^{-2}\log 1/\varepsilon)` — against Nash-MP's
:math:`O(\beta^{-1}\log 1/\varepsilon)`.

The local rate analysis is on :doc:`/theory/nash_mp`.

References:
  Sokota, D'Orazio, Kolter, Loizou, Lanctot, Mitliagkas, Brown & Kroer, *A Unified Approach to
  Reinforcement Learning, Quantal Response Equilibria, and Two-Player Zero-Sum Games*, ICLR 2023,
  arXiv:2206.05825.

Examples:
  On a cyclic tournament MMD converges, but at a step that has to shrink with β:

  >>> import jax
  >>> from divjax import games
  >>> game = games.cyclic(jax.random.key(0), 5, beta=0.5)
  >>> _, traj = games.run(games.mmd.solver(step_size=0.5), game, num_steps=100)
  >>> print(bool(traj.kl[-1] < 1e-3 * traj.kl[0]))
  True
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from divjax import _validate
from divjax.games import _solver, trajectory
from divjax.games._solver import GameSolver
from divjax.games.game import win_rates

__all__ = ["QUERIES_PER_STEP", "solver"]

Array = jax.Array
QUERIES_PER_STEP = 1


@_validate.guarded
def solver(*, step_size: Array) -> GameSolver:
  r"""Magnetic mirror descent with step size η, as a :class:`~divjax.games.GameSolver`.

  ``update`` is the closed-form step of the module docstring, 1 preference query per iteration;
  ``init(game, log_pi0=None)`` starts at π_ref or at the ``[n]`` logits ``log_pi0``.

  Args:
    step_size: η > 0, a scalar (may be traced).

  Returns:
    The solver; run it with :func:`divjax.games.run`.

  Raises:
    ValueError: if a concrete ``step_size`` is not finite and positive.

  References:
    Sokota et al., arXiv:2206.05825.

  Examples:
    In this 2-action game (Pπ)_0 − (Pπ)_1 = 0.3 for every π; from the uniform policy with η = ½
    and β = 1 one step makes the logit gap η·0.3/(1+ηβ) = 0.1, and 60 steps reach the equilibrium
    (σ(0.3/β), 1 − σ(0.3/β)):

    >>> import jax.numpy as jnp
    >>> import numpy as np
    >>> from divjax import games
    >>> game = games.preference_game(jnp.array([[0.5, 0.8], [0.2, 0.5]]), beta=1.0)
    >>> mmd = games.mmd.solver(step_size=0.5)
    >>> print(np.round(np.exp(np.asarray(mmd.update(game, mmd.init(game)).log_pi)), 4))  # σ(0.1)
    [0.525 0.475]
    >>> final, _ = games.run(mmd, game, num_steps=60, metrics=())
    >>> print(np.round(np.exp(np.asarray(final.log_pi)), 4), int(final.queries))
    [0.5744 0.4256] 60
  """
  step_size = _validate.positive("step_size", step_size)

  def update(game, state, *, key=None):
    del key  # deterministic
    eta = jnp.asarray(step_size, game.log_ref.dtype)
    eb = eta * game.beta
    logits = (state.log_pi + eb * game.log_ref + eta * win_rates(game, state.log_pi)) / (1.0 + eb)
    return _solver.advance(state, jax.nn.log_softmax(logits), QUERIES_PER_STEP)

  return _solver.tabular_solver(update, QUERIES_PER_STEP)


init, update, run = trajectory.deprecated_solver_functions("mmd", solver)
