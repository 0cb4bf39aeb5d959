r"""Approximate Nash-MP: each proximal step solved by M policy-gradient steps on a parametrised policy.

The two proximal problems of :mod:`divjax.games.nash_mp` are, for a policy :math:`\pi_\theta`
(``log_softmax(apply_fn(θ))``), the minimisation of

.. math::  f(\theta) = -\tfrac1\beta\langle\pi_\theta, P\pi_{\mathrm{opp}}\rangle
           + \mathrm{KL}(\pi_\theta\|\pi_{\mathrm{ref}}) + \tfrac1\eta\mathrm{KL}(\pi_\theta\|\pi_k),

with :math:`\pi_{\mathrm{opp}} = \pi_k` (improvement step) then :math:`\pi_{k+1/2}` (update step). Both
inner solves start from θ_k and take ``inner_steps`` optax steps with either

* the exact gradient (``batch_size=None``; autodiff of f, one vector query Pπ_opp per proximal step), or
* REINFORCE from sampled preference feedback (``batch_size=B``): :math:`y_b \sim \pi_\theta`,
  :math:`y'_b \sim \pi_{\mathrm{opp}}`, :math:`o_b \sim \mathrm{Bernoulli}(P_{y_b y'_b})`, advantage
  :math:`A_b = -o_b/\beta + (\ell_\theta - \ell_{\mathrm{ref}})(y_b) + (\ell_\theta - \ell_k)(y_b)/\eta`
  minus its batch mean, and gradient :math:`\frac1B\sum_b A_b\nabla_\theta\log\pi_\theta(y_b)` (an
  unbiased estimate of ∇f up to the baseline's O(1/B) bias; the terms of f that depend on θ inside
  the expectation contribute :math:`\sum_y\pi\nabla\ell_\theta = 0`).

With the tabular :class:`SoftmaxPolicy` and exact gradients, M → ∞ recovers exact Nash-MP; a fixed
stochastic inner error leaves a KL plateau that shrinks with B. The inner solvers are divjax's own
implementation of the approximate scheme (:doc:`/theory/nash_mp`). :func:`solver` returns a
:class:`~divjax.games.GameSolver` like the exact solvers', so :func:`divjax.games.run` drives it (pass
``key`` for REINFORCE).

References:
  * Tiapkin et al., *Accelerating Nash Learning from Human Feedback via Mirror Prox*,
    arXiv:2505.19731 (v1), approximate version.
  * Williams, *Simple statistical gradient-following algorithms for connectionist reinforcement
    learning*, Machine Learning 8 (1992) (REINFORCE).

Examples:
  REINFORCE inner steps from sampled comparisons (2·M·B of them per iteration) still reduce
  KL(π*‖π_k):

  >>> import jax
  >>> import jax.numpy as jnp
  >>> import optax
  >>> from divjax import games
  >>> game = games.preference_game(jnp.array([[0.5, 0.8], [0.2, 0.5]]), beta=1.0)
  >>> apply_fn, params = games.approximate.tabular_policy(game)
  >>> solver = games.approximate.solver(apply_fn=apply_fn, step_size=2.0, inner_steps=30,
  ...                                   optimizer=optax.sgd(0.5), batch_size=64)
  >>> final, traj = games.run(solver, game, solver.init(game, params), num_steps=10,
  ...                         key=jax.random.key(0))
  >>> print(int(final.queries), bool(traj.kl[-1] < traj.kl[0] / 5))
  38400 True
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from divjax import _deprecation, _validate
from divjax.divergences import kl_divergence
from divjax.games import _solver, trajectory
from divjax.games import game as game_lib
from divjax.games._solver import GameSolver
from divjax.games.game import PreferenceGame, win_rates
from divjax.games.trajectory import Trajectory

__all__ = ["SoftmaxPolicy", "tabular_policy", "ApproxState", "prox_objective", "solver"]

Array = jax.Array
Params = Any


class SoftmaxPolicy(nn.Module):
  """A tabular softmax policy: one free logit per action (flax.linen); ``apply(params) -> [n] logits``.

  Attributes:
    num_actions: the number of actions n.

  Examples:
    >>> import jax
    >>> import numpy as np
    >>> from divjax import games
    >>> module = games.approximate.SoftmaxPolicy(3)
    >>> params = module.init(jax.random.key(0))  # the logits start at zero
    >>> print(np.asarray(module.apply(params)))
    [0. 0. 0.]
  """
  num_actions: int

  @nn.compact
  def __call__(self) -> Array:
    return self.param("logits", nn.initializers.zeros, (self.num_actions,))


@_validate.guarded
def tabular_policy(game: PreferenceGame) -> tuple[Callable[[Params], Array], Params]:
  """The apply function and parameters of a SoftmaxPolicy initialised at π_ref.

  Args:
    game: the game (its size and π_ref).

  Returns:
    ``(apply_fn, params)`` with ``apply_fn(params)`` the ``[n]`` logits ``game.log_ref``.

  Examples:
    >>> import jax
    >>> import jax.numpy as jnp
    >>> import numpy as np
    >>> from divjax import games
    >>> game = games.preference_game(jnp.array([[0.5, 0.8], [0.2, 0.5]]), beta=1.0)
    >>> apply_fn, params = games.approximate.tabular_policy(game)
    >>> print(np.round(np.asarray(jax.nn.softmax(apply_fn(params))), 4))
    [0.5 0.5]
  """
  module = SoftmaxPolicy(game.preference.shape[-1])
  params = {"params": {"logits": game.log_ref}}
  return module.apply, params


class ApproxState(NamedTuple):
  """State of approximate Nash-MP.

  Attributes:
    params: the policy parameters θ_k.
    step: int32 outer iteration counter.
    queries: int32 preference queries: vector queries Pπ (exact gradients, 2 per iteration) or single
      sampled comparisons (REINFORCE, 2·M·B per iteration).
    log_pi: ``[n]`` log-probabilities of π_θk, ``log_softmax(apply_fn(params))`` (what
      :func:`divjax.games.run` measures); None in states made by the deprecated module functions.

  Examples:
    >>> import jax.numpy as jnp
    >>> import optax
    >>> from divjax import games
    >>> game = games.preference_game(jnp.array([[0.5, 0.8], [0.2, 0.5]]), beta=1.0)
    >>> apply_fn, params = games.approximate.tabular_policy(game)
    >>> solver = games.approximate.solver(apply_fn=apply_fn, step_size=2.0, inner_steps=5,
    ...                                   optimizer=optax.sgd(0.5))
    >>> state = solver.init(game, params)
    >>> print(int(state.step), int(state.queries), state.log_pi.shape)
    0 0 (2,)
  """
  params: Params
  step: Array
  queries: Array
  log_pi: Array | None = None


@_validate.guarded
def prox_objective(game: PreferenceGame, log_theta: Array, log_anchor: Array, log_opp: Array, *,
                   step_size: Array) -> Array:
  r"""The proximal objective f of one approximate Nash-MP step, at the policy ``log_theta``.

  .. math::  f(\theta) = -\tfrac1\beta\langle\pi_\theta, P\pi_{\mathrm{opp}}\rangle
             + \mathrm{KL}(\pi_\theta\|\pi_{\mathrm{ref}}) + \tfrac1\eta\mathrm{KL}(\pi_\theta\|\pi_k).

  Args:
    game: the game.
    log_theta: ``[n]`` log-probabilities of π_θ.
    log_anchor: ``[n]`` log-probabilities of the anchor π_k.
    log_opp: ``[n]`` log-probabilities of the opponent π_opp.
    step_size: normalised η > 0.

  Returns:
    Scalar f. Its exact minimiser is the closed-form Nash-MP step.

  Examples:
    The first proximal step of :func:`divjax.games.nash_mp.update` from the uniform π_ref of this
    2-action game has logit gap 0.2 (β = 1, η = 2); f is stationary there:

    >>> import jax
    >>> import jax.numpy as jnp
    >>> from divjax import games
    >>> game = games.preference_game(jnp.array([[0.5, 0.8], [0.2, 0.5]]), beta=1.0)
    >>> f = lambda logits: games.approximate.prox_objective(
    ...     game, jax.nn.log_softmax(logits), game.log_ref, game.log_ref, step_size=2.0)
    >>> print(bool(jnp.max(jnp.abs(jax.grad(f)(jnp.array([0.2, 0.0])))) < 1e-6))
    True
  """
  log_theta = game_lib._log_policy(game, log_theta, "log_theta")
  log_anchor = game_lib._log_policy(game, log_anchor, "log_anchor")
  log_opp = game_lib._log_policy(game, log_opp, "log_opp")
  step_size = _solver.concrete_positive("step_size", step_size)
  return _prox_value(game, log_theta, log_anchor, win_rates(game, log_opp), step_size)


@_validate.guarded  # its checks stay inside the loops that call it
def _prox_value(game: PreferenceGame, log_theta: Array, log_anchor: Array, win: Array,
                step_size: Array) -> Array:
  return (-(jnp.exp(log_theta) @ win) / game.beta + kl_divergence(log_theta, game.log_ref, logits=True)
          + kl_divergence(log_theta, log_anchor, logits=True) / step_size)


def _log_policy(apply_fn, params) -> Array:
  return jax.nn.log_softmax(apply_fn(params))


def _prox(key: Array | None, game: PreferenceGame, params0: Params, log_anchor: Array, log_opp: Array,
          *, apply_fn, step_size, inner_steps: int, optimizer: optax.GradientTransformation,
          batch_size: int | None) -> Params:
  win = win_rates(game, log_opp)

  def exact_grad(params, _):
    return jax.grad(lambda p: _prox_value(game, _log_policy(apply_fn, p), log_anchor, win,
                                          step_size))(params)

  def reinforce_grad(params, i):
    k_y, k_opp, k_o = jax.random.split(jax.random.fold_in(key, i), 3)
    lt = _log_policy(apply_fn, params)
    y = jax.random.categorical(k_y, lt, shape=(batch_size,))
    y_opp = jax.random.categorical(k_opp, log_opp, shape=(batch_size,))
    o = jax.random.bernoulli(k_o, game.preference[y, y_opp]).astype(lt.dtype)
    adv = -o / game.beta + (lt - game.log_ref)[y] + (lt - log_anchor)[y] / step_size
    adv = jax.lax.stop_gradient(adv - jnp.mean(adv))
    surrogate = lambda p: jnp.mean(adv * _log_policy(apply_fn, p)[y])
    return jax.grad(surrogate)(params)

  grad_fn = exact_grad if batch_size is None else reinforce_grad

  def body(i, carry):
    params, opt_state = carry
    grads = grad_fn(params, i)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state

  params, _ = jax.lax.fori_loop(0, inner_steps, body, (params0, optimizer.init(params0)))
  return params


@_validate.guarded
def solver(*, apply_fn: Callable[[Params], Array], step_size: Array, inner_steps: int,
           optimizer: optax.GradientTransformation, batch_size: int | None = None) -> GameSolver:
  r"""Approximate Nash-MP, as a :class:`~divjax.games.GameSolver` over :class:`ApproxState`.

  ``init(game, params)`` starts at θ_0 = ``params``. ``update(game, state, *, key=None)`` takes two
  inexact proximal steps from θ_k, each ``inner_steps`` optax steps started from θ_k (module
  docstring); REINFORCE (``batch_size`` set) needs ``key``, which :func:`divjax.games.run` splits per
  iteration.

  Args:
    apply_fn: ``params -> [n] logits`` (e.g. a flax module's ``apply``).
    step_size: normalised η > 0 (theory: 2β).
    inner_steps: M ≥ 1, optimiser steps per proximal problem (a ``lax.fori_loop`` trip count: a Python
      int, or a traced integer to ``vmap`` over M).
    optimizer: an optax transformation (re-initialised for every proximal problem), e.g.
      ``optax.sgd(0.5)``. The proximal objective has curvature of order 1/η in the logits, so a
      plain SGD learning rate well above η diverges (the parameters overflow to NaN): scale the
      learning rate with η.
    batch_size: None for exact gradients, else B sampled comparisons per inner step (static).

  Returns:
    The solver. ``queries_per_step`` is 2 vector queries Pπ (exact gradients) or 2·M·B sampled
    comparisons (REINFORCE).

  Raises:
    ValueError: on a concrete non-positive ``step_size``, ``inner_steps`` < 1 or ``batch_size`` < 1;
      from ``update``, REINFORCE without a ``key``.

  References:
    Tiapkin et al., arXiv:2505.19731 (v1).

  Examples:
    With many exact inner steps one iteration matches exact Nash-MP (see
    :func:`divjax.games.nash_mp.solver`: π_1 = (σ(0.2), 1 − σ(0.2))), and 20 iterations reach the
    equilibrium (σ(0.3/β), 1 − σ(0.3/β)):

    >>> import jax
    >>> import jax.numpy as jnp
    >>> import numpy as np
    >>> import optax
    >>> from divjax import games
    >>> game = games.preference_game(jnp.array([[0.5, 0.8], [0.2, 0.5]]), beta=1.0)
    >>> apply_fn, params = games.approximate.tabular_policy(game)
    >>> solver = games.approximate.solver(apply_fn=apply_fn, step_size=2.0, inner_steps=100,
    ...                                   optimizer=optax.sgd(0.5))
    >>> state = solver.update(game, solver.init(game, params))
    >>> print(np.round(np.exp(np.asarray(state.log_pi)), 4))
    [0.5498 0.4502]
    >>> final, _ = games.run(solver, game, solver.init(game, params), num_steps=20)
    >>> print(np.round(np.asarray(jax.nn.softmax(apply_fn(final.params))), 4))
    [0.5744 0.4256]
  """
  step_size = _solver.concrete_positive("step_size", step_size)
  if _validate.is_concrete(inner_steps):
    inner_steps = _validate.integer("inner_steps", int(inner_steps) if hasattr(inner_steps, "dtype")
                                    else inner_steps, minimum=1)
  if batch_size is not None:
    batch_size = _validate.integer("batch_size", batch_size, minimum=1)
  queries = 2 if batch_size is None else 2 * inner_steps * batch_size

  def init(game: PreferenceGame, params: Params = None) -> ApproxState:
    if params is None:
      raise ValueError("params: the approximate solver starts from policy parameters θ_0; pass "
                       "solver.init(game, params) (e.g. from games.approximate.tabular_policy).")
    zero = jnp.zeros((), jnp.int32)
    return ApproxState(params, zero, zero, _log_policy(apply_fn, params))

  def update(game: PreferenceGame, state: ApproxState, *, key: Array | None = None) -> ApproxState:
    if batch_size is not None and key is None:
      raise ValueError("key: REINFORCE (batch_size set) samples preferences; pass key= to "
                       "games.run or to update.")
    k_half, k_new = (None, None) if key is None else jax.random.split(key)
    log_k = _log_policy(apply_fn, state.params)
    kw = dict(apply_fn=apply_fn, step_size=step_size, inner_steps=inner_steps, optimizer=optimizer,
              batch_size=batch_size)
    params_half = _prox(k_half, game, state.params, log_k, log_k, **kw)
    params_new = _prox(k_new, game, state.params, log_k, _log_policy(apply_fn, params_half), **kw)
    return ApproxState(params_new, state.step + 1, state.queries + queries,
                       _log_policy(apply_fn, params_new))

  return GameSolver(_validate.guarded(init), _validate.guarded(update), queries)


# ---------------------------------------------------------------------------------------------------
# Deprecated module functions (before the solver was a value).


def init(game: PreferenceGame, params: Params) -> ApproxState:
  """Deprecated: use ``games.approximate.solver(...).init(game, params)`` (this state has no ``log_pi``)."""
  _deprecation.warn("games.approximate.init(game, params)",
                    "games.approximate.solver(...).init(game, params)")
  del game
  return ApproxState(params, jnp.zeros((), jnp.int32), jnp.zeros((), jnp.int32))


def update(key: Array, game: PreferenceGame, state: ApproxState, *,
           apply_fn: Callable[[Params], Array], step_size: Array, inner_steps: int,
           optimizer: optax.GradientTransformation, batch_size: int | None = None) -> ApproxState:
  """Deprecated: use ``games.approximate.solver(...).update(game, state, key=key)``."""
  _deprecation.warn("games.approximate.update(key, game, state, ...)",
                    "games.approximate.solver(...).update(game, state, key=key)")
  new = solver(apply_fn=apply_fn, step_size=step_size, inner_steps=inner_steps, optimizer=optimizer,
               batch_size=batch_size).update(game, state, key=key)
  return new if state.log_pi is not None else new._replace(log_pi=None)  # the structure it was given


def run(key: Array, game: PreferenceGame, params: Params, *, apply_fn: Callable[[Params], Array],
        step_size: Array, inner_steps: int, num_steps: int, optimizer: optax.GradientTransformation,
        batch_size: int | None = None,
        equilibrium: Array | None = None) -> tuple[ApproxState, Trajectory]:
  """Deprecated: use ``games.run(games.approximate.solver(...), game, state, num_steps=..., key=key)``."""
  _deprecation.warn("games.approximate.run(key, game, params, ...)",
                    "games.run(games.approximate.solver(...), game, solver.init(game, params), "
                    "num_steps=..., key=key)")
  s = solver(apply_fn=apply_fn, step_size=step_size, inner_steps=inner_steps, optimizer=optimizer,
             batch_size=batch_size)
  return trajectory.run(s, game, s.init(game, params), num_steps=num_steps, key=key,
                        equilibrium=equilibrium)


def __getattr__(name: str):
  if name == "ApproxTrajectory":  # was a copy of Trajectory
    _deprecation.warn("games.approximate.ApproxTrajectory", "games.Trajectory")
    return Trajectory
  raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
