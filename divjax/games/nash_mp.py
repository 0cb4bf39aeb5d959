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
  >>> _, traj = games.run(games.nash_mp.solver(step_size=0.2), game, num_steps=20)
  >>> print(bool(jnp.all(traj.kl <= traj.kl[0] * 1.2 ** -jnp.arange(21.0))))
  True
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from divjax import _validate
from divjax.games import _solver, trajectory
from divjax.games._solver import GameSolver

__all__ = ["QUERIES_PER_STEP", "solver", "theory_step_size"]

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
def solver(*, step_size: Array) -> GameSolver:
  r"""Nash mirror prox with normalised step η, as a :class:`~divjax.games.GameSolver`.

  ``update`` takes the improvement step, then the update step, both from the anchor π_k with
  λ = η/(1+η) (module docstring): 2 preference queries per iteration. ``init(game, log_pi0=None)``
  starts at π_ref or at the ``[n]`` logits ``log_pi0``.

  Args:
    step_size: normalised step η > 0 (theory: η ≤ 2β, :func:`theory_step_size`); a scalar, may be
      traced (``vmap`` over it).

  Returns:
    The solver; run it with :func:`divjax.games.run`.

  Raises:
    ValueError: if a concrete ``step_size`` is not finite and positive (traced: NaN iterates).

  References:
    Tiapkin et al., arXiv:2505.19731 (v1).

  Examples:
    The step may be traced, so one program sweeps it: on a cyclic tournament with β = 0.1, 100
    iterations at the theory step η = 2β end closer to π* than at η = β:

    >>> import jax
    >>> import jax.numpy as jnp
    >>> from divjax import games
    >>> game = games.cyclic(jax.random.key(0), 5, beta=0.1)
    >>> final_kl = lambda eta: games.run(games.nash_mp.solver(step_size=eta), game, num_steps=100,
    ...                                  metrics=("kl",))[1].kl[-1]
    >>> kl = jax.vmap(final_kl)(jnp.array([0.1, 0.2]))
    >>> print(bool(kl[1] < 1e-3 * kl[0]))
    True
  """
  step_size = _validate.positive("step_size", step_size)

  def update(game, state, *, key=None):
    del key  # deterministic
    eta = jnp.asarray(step_size, game.log_ref.dtype)
    log_pi = _solver.mirror_prox_step(game, state.log_pi, eta / (1.0 + eta))
    return _solver.advance(state, log_pi, QUERIES_PER_STEP)

  return _solver.tabular_solver(update, QUERIES_PER_STEP)


init, update, run = trajectory.deprecated_solver_functions("nash_mp", solver)
