r"""Nash mirror prox (Nash-MP): two closed-form proximal steps per iteration, on logits.

With normalised step η > 0 and :math:`\lambda = \eta/(1+\eta)` (the anchor is π_k in both steps):

.. math::
   \pi_{k+1/2} &= \arg\min_\pi\ \tfrac1\beta P(\pi_k \succ \pi) + \mathrm{KL}(\pi\|\pi_{\mathrm{ref}})
                  + \tfrac1\eta\mathrm{KL}(\pi\|\pi_k), \\
   \pi_{k+1}   &= \arg\min_\pi\ \tfrac1\beta P(\pi_{k+1/2} \succ \pi) + \mathrm{KL}(\pi\|\pi_{\mathrm{ref}})
                  + \tfrac1\eta\mathrm{KL}(\pi\|\pi_k),

whose minimisers are geometric mixtures times an exponential tilt,

.. math::  \ell_{\mathrm{new}} = (1-\lambda)\ell_k + \lambda\ell_{\mathrm{ref}} + \tfrac\lambda\beta P\pi_{\mathrm{opp}} - \log Z,

with :math:`\pi_{\mathrm{opp}} = \pi_k` then :math:`\pi_{k+1/2}`: **2 preference queries per iteration**.
The theory step is η = 2β, for which
:math:`\mathrm{KL}(\pi^*_\beta\|\pi_k) \le (1+2\beta)^{-k}\mathrm{KL}(\pi^*_\beta\|\pi_0)`, i.e.
:math:`(1+2\beta)^{-N/2}` in the number of queries N (the rate is Tiapkin et al.'s; the constants
and the linearisation that predicts the observed late-phase rate, the square
:math:`(1+2\beta)^{-2}` per iteration, are derived on :doc:`/theory/nash_mp`). Nash-MP(η) is the
same map as EGPO with :math:`\eta_E = \eta/(\beta(1+\eta))` (:mod:`divjax.games.egpo`).

References:
  * Tiapkin, Calandriello, Belomestny, Moulines, Naumov, Rasul, Valko & Ménard, *Accelerating Nash
    Learning from Human Feedback via Mirror Prox*, arXiv:2505.19731 (v1, May 2025).
  * Nemirovski, *Prox-method with rate of convergence O(1/t)*, SIAM J. Optim. 15 (2004).

Examples:
  On a cyclic tournament (generalised rock–paper–scissors) at the theory step, KL(π*‖π_k) stays
  below (1+2β)^(−k)·KL(π*‖π_0) on every iterate:

  >>> import jax
  >>> import jax.numpy as jnp
  >>> from divjax import games
  >>> game = games.cyclic(jax.random.key(0), 5, beta=0.1)
  >>> _, traj = games.nash_mp.run(game, step_size=0.2, num_steps=20)
  >>> print(bool(jnp.all(traj.kl <= traj.kl[0] * 1.2 ** -jnp.arange(21.0))))
  True
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from divjax import _validate
from divjax.games import _solver
from divjax.games._solver import SolverState, Trajectory
from divjax.games.game import PreferenceGame, win_rates

__all__ = ["QUERIES_PER_STEP", "init", "update", "run", "theory_step_size"]

Array = jax.Array
QUERIES_PER_STEP = 2


@_validate.guarded
def theory_step_size(beta):
  """The normalised step η = 2β of the convergence theorem.

  Args:
    beta: β > 0 (scalar or array).

  Returns:
    2β.

  Examples:
    >>> from divjax import games
    >>> print(games.nash_mp.theory_step_size(0.1))
    0.2
  """
  return 2.0 * _validate.positive("beta", beta)


@_validate.guarded
def init(game: PreferenceGame, log_pi0: Array | None = None) -> SolverState:
  """The solver state at π_0 (default π_ref; ``log_pi0``: ``[n]`` logits of another start).

  Args:
    game: the game.
    log_pi0: optional ``[n]`` finite logits of π_0 (normalised here).

  Returns:
    A :class:`~divjax.games.SolverState` with ``step = queries = 0``.

  Examples:
    >>> import jax.numpy as jnp
    >>> import numpy as np
    >>> from divjax import games
    >>> game = games.preference_game(jnp.array([[0.5, 0.8], [0.2, 0.5]]), beta=1.0)
    >>> state = games.nash_mp.init(game, jnp.array([1.0, 0.0]))
    >>> print(np.round(np.exp(np.asarray(state.log_pi)), 4))  # (σ(1), 1 − σ(1))
    [0.7311 0.2689]
  """
  return _solver.init_state(game, log_pi0)


@_validate.guarded
def update(game: PreferenceGame, state: SolverState, *, step_size: Array) -> SolverState:
  r"""One Nash-MP iteration (improvement step, then update step from the same anchor π_k).

  Args:
    game: the game.
    state: current state (log π_k).
    step_size: normalised step η > 0 (theory: η ≤ 2β); a scalar, may be traced (vmap over it).

  Returns:
    The state at π_{k+1}, with ``queries`` increased by 2.

  Examples:
    In this 2-action game (Pπ)_0 − (Pπ)_1 = 0.3 for every π, so one step from the uniform π_ref
    with λ = η/(1+η) = 2/3 and β = 1 moves the logit gap to λ·0.3/β = 0.2, i.e. π_1 = (σ(0.2),
    1 − σ(0.2)):

    >>> import jax.numpy as jnp
    >>> import numpy as np
    >>> from divjax import games
    >>> game = games.preference_game(jnp.array([[0.5, 0.8], [0.2, 0.5]]), beta=1.0)
    >>> state = games.nash_mp.update(game, games.nash_mp.init(game), step_size=2.0)
    >>> print(np.round(np.exp(np.asarray(state.log_pi)), 4), int(state.queries))
    [0.5498 0.4502] 2
  """
  step_size = _solver.concrete_positive("step_size", step_size)
  lam = step_size / (1.0 + step_size)
  log_half = _solver.prox_step(game, state.log_pi, win_rates(game, state.log_pi), lam)
  log_new = _solver.prox_step(game, state.log_pi, win_rates(game, log_half), lam)
  return SolverState(log_new, state.step + 1, state.queries + QUERIES_PER_STEP)


@_validate.guarded
def run(game: PreferenceGame, *, step_size: Array, num_steps: int, log_pi0: Array | None = None,
        equilibrium: Array | None = None,
        metrics: tuple[str, ...] = _solver.METRICS) -> tuple[SolverState, Trajectory]:
  r"""Runs ``num_steps`` Nash-MP iterations with ``lax.scan`` and records the trajectory.

  Args:
    game: the game.
    step_size: normalised step η > 0 (:func:`theory_step_size` gives 2β).
    num_steps: number of iterations (static).
    log_pi0: optional ``[n]`` logits of π_0 (default π_ref).
    equilibrium: ``[n]`` log-probabilities of π*_β for the metrics; solved with
      :func:`divjax.games.solve_equilibrium` when None and metrics are requested.
    metrics: subset of ``("kl", "exploitability", "span")`` to record (fewer is cheaper).

  Returns:
    ``(final_state, trajectory)``; trajectory arrays have length ``num_steps + 1``.

  References:
    Tiapkin et al., arXiv:2505.19731 (v1).

  Examples:
    The equilibrium of this 2-action game is (σ(0.3/β), 1 − σ(0.3/β)) (see
    :func:`~divjax.games.solve_equilibrium`); 30 iterations at η = 2β reach it:

    >>> import jax.numpy as jnp
    >>> import numpy as np
    >>> from divjax import games
    >>> game = games.preference_game(jnp.array([[0.5, 0.8], [0.2, 0.5]]), beta=1.0)
    >>> final, traj = games.nash_mp.run(game, step_size=2.0, num_steps=30)
    >>> print(np.round(np.exp(np.asarray(final.log_pi)), 4), int(final.queries))
    [0.5744 0.4256] 60
  """
  step_size = _solver.concrete_positive("step_size", step_size)
  step_size = jnp.asarray(step_size, game.log_ref.dtype)
  return _solver.run_scan(lambda s: update(game, s, step_size=step_size), game, init(game, log_pi0),
                          num_steps=num_steps, equilibrium=equilibrium, metrics=metrics)
