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
implementation of the approximate scheme (:doc:`/theory/nash_mp`).

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
  >>> final, traj = games.approximate.run(jax.random.key(0), game, params, apply_fn=apply_fn,
  ...     step_size=2.0, inner_steps=30, num_steps=10, optimizer=optax.sgd(0.5), batch_size=64)
  >>> print(int(final.queries), bool(traj.kl[-1] < traj.kl[0] / 5))
  38400 True
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from divjax import _validate
from divjax.games import _solver
from divjax.games import game as game_lib
from divjax.games.game import PreferenceGame, exploitability, kl_to, span_seminorm, win_rates

__all__ = ["SoftmaxPolicy", "tabular_policy", "ApproxState", "ApproxTrajectory", "prox_objective",
           "init", "update", "run"]

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

  Examples:
    >>> import jax.numpy as jnp
    >>> from divjax import games
    >>> game = games.preference_game(jnp.array([[0.5, 0.8], [0.2, 0.5]]), beta=1.0)
    >>> _, params = games.approximate.tabular_policy(game)
    >>> state = games.approximate.init(game, params)
    >>> print(int(state.step), int(state.queries))
    0 0
  """
  params: Params
  step: Array
  queries: Array


class ApproxTrajectory(NamedTuple):
  """Per outer iterate (``[num_steps + 1]``): KL(π*‖π_k), Gap(π_k), span(ℓ_k − ℓ*), queries.

  Attributes:
    kl: KL(π*_β‖π_k).
    exploitability: Gap(π_k).
    span: span(ℓ_k − ℓ*).
    queries: cumulative preference queries.

  Examples:
    >>> import jax
    >>> import jax.numpy as jnp
    >>> import optax
    >>> from divjax import games
    >>> game = games.preference_game(jnp.array([[0.5, 0.8], [0.2, 0.5]]), beta=1.0)
    >>> apply_fn, params = games.approximate.tabular_policy(game)
    >>> _, traj = games.approximate.run(jax.random.key(0), game, params, apply_fn=apply_fn,
    ...     step_size=2.0, inner_steps=5, num_steps=3, optimizer=optax.sgd(0.5))
    >>> print(traj.kl.shape, int(traj.queries[-1]))  # 3 iterations, 2 vector queries each
    (4,) 6
  """
  kl: Array
  exploitability: Array
  span: Array
  queries: Array


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
  pi = jnp.exp(log_theta)
  return (-(pi @ win_rates(game, log_opp)) / game.beta + kl_to(log_theta, game.log_ref)
          + kl_to(log_theta, log_anchor) / step_size)


@_validate.guarded
def init(game: PreferenceGame, params: Params) -> ApproxState:
  """The state at θ_0 = ``params``.

  Args:
    game: the game (unused; kept for the init/update signature of the other solvers).
    params: the policy parameters θ_0.

  Returns:
    An :class:`ApproxState` with ``step = queries = 0``.

  Examples:
    >>> import jax.numpy as jnp
    >>> from divjax import games
    >>> game = games.preference_game(jnp.array([[0.5, 0.8], [0.2, 0.5]]), beta=1.0)
    >>> _, params = games.approximate.tabular_policy(game)
    >>> print(int(games.approximate.init(game, params).queries))
    0
  """
  del game
  return ApproxState(params, jnp.zeros((), jnp.int32), jnp.zeros((), jnp.int32))


def _log_policy(apply_fn, params) -> Array:
  return jax.nn.log_softmax(apply_fn(params))


def _prox(key: Array, game: PreferenceGame, params0: Params, log_anchor: Array, log_opp: Array, *,
          apply_fn, step_size, inner_steps: int, optimizer: optax.GradientTransformation,
          batch_size: int | None) -> Params:
  win = win_rates(game, log_opp)

  def exact_grad(params, _):
    def f(p):
      lt = _log_policy(apply_fn, p)
      return (-(jnp.exp(lt) @ win) / game.beta + kl_to(lt, game.log_ref)
              + kl_to(lt, log_anchor) / step_size)
    return jax.grad(f)(params)

  def reinforce_grad(params, k):
    k_y, k_opp, k_o = jax.random.split(k, 3)
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
    grads = grad_fn(params, jax.random.fold_in(key, i))
    updates, opt_state = optimizer.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state

  params, _ = jax.lax.fori_loop(0, inner_steps, body, (params0, optimizer.init(params0)))
  return params


@_validate.guarded
def update(key: Array, game: PreferenceGame, state: ApproxState, *, apply_fn: Callable[[Params], Array],
           step_size: Array, inner_steps: int, optimizer: optax.GradientTransformation,
           batch_size: int | None = None) -> ApproxState:
  r"""One approximate Nash-MP iteration: two inexact proximal steps from θ_k.

  Args:
    key: PRNG key (used by REINFORCE only).
    game: the game.
    state: current state.
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
    The state at θ_{k+1}.

  References:
    Tiapkin et al., arXiv:2505.19731 (v1).

  Examples:
    With many exact inner steps one iteration matches exact Nash-MP (see
    :func:`divjax.games.nash_mp.update`: π_1 = (σ(0.2), 1 − σ(0.2))):

    >>> import jax
    >>> import jax.numpy as jnp
    >>> import numpy as np
    >>> import optax
    >>> from divjax import games
    >>> game = games.preference_game(jnp.array([[0.5, 0.8], [0.2, 0.5]]), beta=1.0)
    >>> apply_fn, params = games.approximate.tabular_policy(game)
    >>> state = games.approximate.update(jax.random.key(0), game, games.approximate.init(game, params),
    ...     apply_fn=apply_fn, step_size=2.0, inner_steps=100, optimizer=optax.sgd(0.5))
    >>> print(np.round(np.asarray(jax.nn.softmax(apply_fn(state.params))), 4))
    [0.5498 0.4502]
  """
  step_size = _solver.concrete_positive("step_size", step_size)
  if _validate.is_concrete(inner_steps):
    inner_steps = _validate.integer("inner_steps", int(inner_steps) if hasattr(inner_steps, "dtype")
                                    else inner_steps, minimum=1)
  if batch_size is not None:
    batch_size = _validate.integer("batch_size", batch_size, minimum=1)
  k_half, k_new = jax.random.split(key)
  log_k = _log_policy(apply_fn, state.params)
  kw = dict(apply_fn=apply_fn, step_size=step_size, inner_steps=inner_steps, optimizer=optimizer,
            batch_size=batch_size)
  params_half = _prox(k_half, game, state.params, log_k, log_k, **kw)
  params_new = _prox(k_new, game, state.params, log_k, _log_policy(apply_fn, params_half), **kw)
  used = 2 if batch_size is None else 2 * inner_steps * batch_size
  return ApproxState(params_new, state.step + 1, state.queries + used)


@_validate.guarded
def run(key: Array, game: PreferenceGame, params: Params, *, apply_fn: Callable[[Params], Array],
        step_size: Array, inner_steps: int, num_steps: int, optimizer: optax.GradientTransformation,
        batch_size: int | None = None,
        equilibrium: Array | None = None) -> tuple[ApproxState, ApproxTrajectory]:
  """Runs ``num_steps`` approximate Nash-MP iterations (``lax.scan``) and records the trajectory.

  Arguments as :func:`update`, plus ``params`` (θ_0), ``num_steps`` (static) and ``equilibrium``
  (``[n]`` log π*; solved when None).

  Returns:
    ``(final_state, trajectory)`` with ``[num_steps + 1]`` arrays.

  References:
    Tiapkin et al., arXiv:2505.19731 (v1).

  Examples:
    Exact inner gradients reach the equilibrium (σ(0.3/β), 1 − σ(0.3/β)) of this 2-action game:

    >>> import jax
    >>> import jax.numpy as jnp
    >>> import numpy as np
    >>> import optax
    >>> from divjax import games
    >>> game = games.preference_game(jnp.array([[0.5, 0.8], [0.2, 0.5]]), beta=1.0)
    >>> apply_fn, params = games.approximate.tabular_policy(game)
    >>> final, _ = games.approximate.run(jax.random.key(0), game, params, apply_fn=apply_fn,
    ...     step_size=2.0, inner_steps=50, num_steps=20, optimizer=optax.sgd(0.5))
    >>> print(np.round(np.asarray(jax.nn.softmax(apply_fn(final.params))), 4))
    [0.5744 0.4256]
  """
  num_steps = _validate.integer("num_steps", num_steps, minimum=0)
  if equilibrium is None:
    from divjax.games.equilibrium import solve_equilibrium
    equilibrium = solve_equilibrium(game).log_pi

  def measure(s):
    lp = _log_policy(apply_fn, s.params)
    return ApproxTrajectory(kl_to(equilibrium, lp), exploitability(game, lp),
                            span_seminorm(lp, equilibrium), s.queries)

  def body(s, k):
    s = update(k, game, s, apply_fn=apply_fn, step_size=step_size, inner_steps=inner_steps,
               optimizer=optimizer, batch_size=batch_size)
    return s, measure(s)

  s0 = init(game, params)
  final, rec = jax.lax.scan(body, s0, jax.random.split(key, num_steps))
  rec = jax.tree_util.tree_map(lambda a, b: jnp.concatenate([a[None], b]), measure(s0), rec)
  return final, rec
