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
  >>> _, traj = games.mmd.run(game, step_size=0.5, num_steps=100)
  >>> print(bool(traj.kl[-1] < 1e-3 * traj.kl[0]))
  True
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from divjax import _validate
from divjax.games import _solver
from divjax.games._solver import SolverState, Trajectory
from divjax.games.game import PreferenceGame, win_rates

__all__ = ["QUERIES_PER_STEP", "init", "update", "run"]

Array = jax.Array
QUERIES_PER_STEP = 1


@_validate.guarded
def init(game: PreferenceGame, log_pi0: Array | None = None) -> SolverState:
  """The solver state at π_0 (default π_ref).

  Args:
    game: the game.
    log_pi0: optional ``[n]`` finite logits of π_0.

  Returns:
    A :class:`~divjax.games.SolverState` with ``step = queries = 0``.

  Examples:
    >>> import jax.numpy as jnp
    >>> from divjax import games
    >>> game = games.preference_game(jnp.array([[0.5, 0.8], [0.2, 0.5]]), beta=1.0)
    >>> print(int(games.mmd.init(game).step))
    0
  """
  return _solver.init_state(game, log_pi0)


@_validate.guarded
def update(game: PreferenceGame, state: SolverState, *, step_size: Array) -> SolverState:
  """One MMD step with step size η > 0 (``queries`` + 1).

  Args:
    game: the game.
    state: current state (log π_t).
    step_size: η > 0, a scalar (may be traced).

  Returns:
    The state at π_{t+1}.

  Examples:
    In this 2-action game (Pπ)_0 − (Pπ)_1 = 0.3 for every π; from the uniform policy with η = ½
    and β = 1 the logit gap becomes η·0.3/(1+ηβ) = 0.1:

    >>> import jax.numpy as jnp
    >>> import numpy as np
    >>> from divjax import games
    >>> game = games.preference_game(jnp.array([[0.5, 0.8], [0.2, 0.5]]), beta=1.0)
    >>> state = games.mmd.update(game, games.mmd.init(game), step_size=0.5)
    >>> print(np.round(np.exp(np.asarray(state.log_pi)), 4), int(state.queries))  # σ(0.1)
    [0.525 0.475] 1
  """
  step_size = _solver.concrete_positive("step_size", step_size)
  eb = step_size * game.beta
  logits = (state.log_pi + eb * game.log_ref + step_size * win_rates(game, state.log_pi)) / (1.0 + eb)
  return SolverState(jax.nn.log_softmax(logits), state.step + 1, state.queries + QUERIES_PER_STEP)


@_validate.guarded
def run(game: PreferenceGame, *, step_size: Array, num_steps: int, log_pi0: Array | None = None,
        equilibrium: Array | None = None,
        metrics: tuple[str, ...] = _solver.METRICS) -> tuple[SolverState, Trajectory]:
  """Runs ``num_steps`` MMD steps (``lax.scan``) and records the trajectory.

  Arguments and outputs as :func:`divjax.games.nash_mp.run`, with ``step_size`` = η.

  References:
    Sokota et al., arXiv:2206.05825.

  Examples:
    The equilibrium of this 2-action game is (σ(0.3/β), 1 − σ(0.3/β)):

    >>> import jax.numpy as jnp
    >>> import numpy as np
    >>> from divjax import games
    >>> game = games.preference_game(jnp.array([[0.5, 0.8], [0.2, 0.5]]), beta=1.0)
    >>> final, _ = games.mmd.run(game, step_size=0.5, num_steps=60, metrics=())
    >>> print(np.round(np.exp(np.asarray(final.log_pi)), 4), int(final.queries))
    [0.5744 0.4256] 60
  """
  step_size = _solver.concrete_positive("step_size", step_size)
  step_size = jnp.asarray(step_size, game.log_ref.dtype)
  return _solver.run_scan(lambda s: update(game, s, step_size=step_size), game, init(game, log_pi0),
                          num_steps=num_steps, equilibrium=equilibrium, metrics=metrics)
