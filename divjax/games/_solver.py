r"""The solver value, the tabular solver state and the proximal steps the solvers share.

A solver is a :class:`GameSolver`, a NamedTuple of two pure functions (as optax's
``GradientTransformation`` and blackjax's ``SamplingAlgorithm``) built by a constructor such as
:func:`divjax.games.nash_mp.solver`; :func:`divjax.games.run` drives any of them. This module sits
below every solver module and below :mod:`~divjax.games.equilibrium` (whose warm start is the
Nash-MP step, :func:`mirror_prox_step`), so the package's imports form no cycle.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from divjax import _validate
from divjax.games.game import PreferenceGame, win_rates

Array = jax.Array


class GameSolver(NamedTuple):
  r"""A game solver as a value: an ``init``/``update`` pair and its cost in preference queries.

  Build one with a constructor — :func:`divjax.games.nash_mp.solver`, :func:`divjax.games.egpo.solver`,
  :func:`divjax.games.mmd.solver`, :func:`divjax.games.nash_md.solver` or
  :func:`divjax.games.approximate.solver` — which fixes the hyperparameters (traced values allowed, so
  ``vmap`` over step sizes works), and run it with :func:`divjax.games.run` or your own loop. The game
  is an argument of ``init`` and ``update``, so one solver serves a batch of games under ``vmap``.

  Every state has ``log_pi`` (``[n]`` normalised log-probabilities of the current policy π_k),
  ``step`` and ``queries`` (int32 counters); :func:`divjax.games.run` records its trajectory from them.

  Attributes:
    init: ``init(game, start=None) -> state``. Tabular solvers take optional ``[n]`` finite logits of
      π_0 (default π_ref) and return a :class:`SolverState`; the approximate solver takes the policy
      parameters θ_0.
    update: ``update(game, state, *, key=None) -> state``, one iteration. ``key`` is used by sampled
      solvers only (REINFORCE in :mod:`~divjax.games.approximate`).
    queries_per_step: preference queries one ``update`` costs (the x-axis of the convergence plots):
      a Python int for the tabular solvers.

  Examples:
    One Nash-MP step at η = 2 on a 2-action game whose win rates differ by 0.3 moves the logit gap to
    λ·0.3/β = 0.2 (λ = η/(1+η)):

    >>> import jax.numpy as jnp
    >>> import numpy as np
    >>> from divjax import games
    >>> game = games.preference_game(jnp.array([[0.5, 0.8], [0.2, 0.5]]), beta=1.0)
    >>> solver = games.nash_mp.solver(step_size=2.0)
    >>> state = solver.update(game, solver.init(game))
    >>> print(np.round(np.exp(np.asarray(state.log_pi)), 4), int(state.queries), solver.queries_per_step)
    [0.5498 0.4502] 2 2
  """
  init: Callable[..., Any]
  update: Callable[..., Any]
  queries_per_step: Any


class SolverState(NamedTuple):
  """State of a tabular solver.

  Attributes:
    log_pi: ``[n]`` normalised log-probabilities of the current policy π_k.
    step: int32 iteration counter k.
    queries: int32 number of preference queries (evaluations of P(·≻π)) used so far.

  Examples:
    Every solver starts at π_0 = π_ref with no queries spent:

    >>> import jax.numpy as jnp
    >>> import numpy as np
    >>> from divjax import games
    >>> game = games.preference_game(jnp.array([[0.5, 0.8], [0.2, 0.5]]), beta=1.0)
    >>> state = games.mmd.solver(step_size=0.5).init(game)
    >>> print(np.round(np.exp(np.asarray(state.log_pi)), 4), int(state.step), int(state.queries))
    [0.5 0.5] 0 0
  """
  log_pi: Array
  step: Array
  queries: Array


def init_state(game: PreferenceGame, log_pi0: Array | None = None) -> SolverState:
  """π_0 = π_ref unless ``log_pi0`` (unnormalised log-probabilities, finite) is given."""
  if log_pi0 is None:
    log_pi = game.log_ref
  else:
    log_pi0 = _validate.finite("log_pi0", log_pi0)
    _validate.last_dim("log_pi0", log_pi0, game.preference.shape[-1], what="one logit per action")
    log_pi = jax.nn.log_softmax(jnp.asarray(log_pi0, game.log_ref.dtype))
  return SolverState(log_pi, jnp.zeros((), jnp.int32), jnp.zeros((), jnp.int32))


def tabular_solver(update: Callable[..., SolverState], queries_per_step: int) -> GameSolver:
  """The :class:`GameSolver` of a tabular method: :func:`init_state` and ``update``, both guarded."""
  return GameSolver(_validate.guarded(init_state), _validate.guarded(update), queries_per_step)


def advance(state: SolverState, log_pi: Array, queries: int) -> SolverState:
  """The next tabular state: policy ``log_pi``, one more step, ``queries`` more queries."""
  return SolverState(log_pi, state.step + 1, state.queries + queries)


def prox_step(game: PreferenceGame, log_anchor: Array, win: Array, lam: Array) -> Array:
  r"""The closed-form proximal step on logits.

  .. math::  \ell_{\mathrm{new}} = \mathrm{log\_softmax}\big((1-\lambda)\ell_k + \lambda\ell_{\mathrm{ref}}
             + (\lambda/\beta)\,P\pi_{\mathrm{opp}}\big).
  """
  return jax.nn.log_softmax((1.0 - lam) * log_anchor + lam * game.log_ref + (lam / game.beta) * win)


def mirror_prox_step(game: PreferenceGame, log_pi: Array, lam: Array) -> Array:
  r"""One Nash-MP iteration from π_k with λ = η/(1+η): the improvement step, then the update step.

  Both proximal steps are anchored at π_k; the opponent is π_k, then π_{k+1/2} (2 preference queries).
  """
  log_half = prox_step(game, log_pi, win_rates(game, log_pi), lam)
  return prox_step(game, log_pi, win_rates(game, log_half), lam)


def concrete_positive(name: str, x: Any) -> Any:
  """``x`` must be finite and > 0: a named error when concrete, NaN (and a checked-mode check) traced."""
  return _validate.positive(name, x)


def check_step_below_inverse_beta(game: PreferenceGame, step_size: Any) -> Any:
  """``step_size`` must be > 0 with ``step_size * beta < 1``; returns it (NaN traced if not)."""
  step_size = _validate.positive("step_size", step_size)
  if _validate.is_concrete((step_size, game.beta)):
    prod = np.asarray(step_size) * np.asarray(game.beta)
    if not (prod < 1.0).all():
      raise ValueError(f"step_size must satisfy step_size * beta < 1, got {prod!r}.")
  return _validate.traced_check(step_size, lambda eta: jnp.all(eta * game.beta < 1.0),
                                "step_size must satisfy step_size * beta < 1.")
