r"""The one driver of every game solver: :func:`run` scans a :class:`~divjax.games.GameSolver` and
records the trajectory the experiments plot.

Per iterate k = 0 … ``num_steps`` (iterate 0 is the start) it records, as asked by ``metrics``,

.. math::  \mathrm{KL}(\pi^*_\beta\|\pi_k),\qquad \mathrm{Gap}(\pi_k) = \beta\,\mathrm{KL}(\pi_k\|\mathrm{BR}_\beta(\pi_k)),
           \qquad \mathrm{span}(\ell_k - \ell^*),

and the cumulative number of preference queries, the x-axis on which the methods are compared.

References:
  Tiapkin et al., *Accelerating Nash Learning from Human Feedback via Mirror Prox*, arXiv:2505.19731
  (v1): the metrics of its convergence theorem.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

from divjax import _deprecation, _validate
from divjax.divergences import kl_divergence
from divjax.games import _solver
from divjax.games._solver import GameSolver
from divjax.games.equilibrium import solve_equilibrium
from divjax.games.game import PreferenceGame, exploitability, span_seminorm

__all__ = ["METRICS", "Trajectory", "run"]

Array = jax.Array

#: Metrics a trajectory can record.
METRICS = ("kl", "exploitability", "span")


class Trajectory(NamedTuple):
  """Per-iterate diagnostics, each ``[num_steps + 1]`` (iterate 0 is the start); None if not recorded.

  Attributes:
    kl: KL(π*_β‖π_k).
    exploitability: Gap(π_k) = β KL(π_k‖BR_β(π_k)).
    span: span(ℓ_k − ℓ*), the span semi-norm of the log-probability error.
    queries: cumulative preference queries after iterate k.

  Examples:
    >>> import jax.numpy as jnp
    >>> import numpy as np
    >>> from divjax import games
    >>> game = games.preference_game(jnp.array([[0.5, 0.8], [0.2, 0.5]]), beta=1.0)
    >>> _, traj = games.run(games.nash_mp.solver(step_size=2.0), game, num_steps=3, metrics=("kl",))
    >>> print(np.asarray(traj.queries), traj.kl.shape, traj.span is None)
    [0 2 4 6] (4,) True
  """
  kl: Array | None
  exploitability: Array | None
  span: Array | None
  queries: Array


def _check_metrics(metrics: tuple[str, ...]) -> tuple[str, ...]:
  metrics = tuple(metrics)
  for m in metrics:
    if m not in METRICS:
      raise ValueError(f"metrics must be drawn from {METRICS}, got {m!r}.")
  return metrics


@_validate.guarded
def run(solver: GameSolver, game: PreferenceGame, state: Any = None, *, num_steps: int,
        key: Array | None = None, equilibrium: Array | None = None,
        metrics: tuple[str, ...] = METRICS) -> tuple[Any, Trajectory]:
  r"""Runs ``num_steps`` iterations of ``solver`` on ``game`` with ``lax.scan`` and records the trajectory.

  Args:
    solver: a :class:`~divjax.games.GameSolver`, e.g. ``games.nash_mp.solver(step_size=2 * beta)``.
    game: the game.
    state: the starting state (default ``solver.init(game)``: π_0 = π_ref for the tabular solvers;
      the approximate solver needs ``solver.init(game, params)``).
    num_steps: number of iterations (static, ≥ 0).
    key: PRNG key for sampled solvers, split into one key per iteration (None: deterministic).
    equilibrium: ``[n]`` log-probabilities of π*_β for the ``"kl"`` and ``"span"`` metrics; solved with
      :func:`~divjax.games.solve_equilibrium` when None and one of them is requested.
    metrics: subset of ``("kl", "exploitability", "span")`` to record (fewer is cheaper).

  Returns:
    ``(final_state, trajectory)``; the :class:`Trajectory` arrays have length ``num_steps + 1``.

  Raises:
    ValueError: for a negative ``num_steps``, an unknown metric, or invalid hyperparameters of the
      solver that need the game to check (e.g. ``step_size * beta >= 1`` for EGPO and Nash-MD).
    TypeError: if ``solver`` is not a :class:`~divjax.games.GameSolver`.

  References:
    Tiapkin et al., arXiv:2505.19731 (v1).

  Examples:
    The equilibrium of this 2-action game is (σ(0.3/β), 1 − σ(0.3/β)); Nash-MP at η = 2β starts at
    π_ref = (½, ½) and reaches it, its exploitability falling to zero:

    >>> import jax.numpy as jnp
    >>> import numpy as np
    >>> from divjax import games
    >>> game = games.preference_game(jnp.array([[0.5, 0.8], [0.2, 0.5]]), beta=1.0)
    >>> final, traj = games.run(games.nash_mp.solver(step_size=2.0), game, num_steps=30)
    >>> print(np.round(np.exp(np.asarray(final.log_pi)), 4), int(final.queries))
    [0.5744 0.4256] 60
    >>> print(f"{float(traj.exploitability[0]):.4f}", bool(traj.exploitability[-1] < 1e-10))
    0.0112 True

    A sampled solver takes a key (split into one key per iteration) and starts from its parameters:

    >>> import jax
    >>> import optax
    >>> apply_fn, params = games.approximate.tabular_policy(game)
    >>> solver = games.approximate.solver(apply_fn=apply_fn, step_size=2.0, inner_steps=10,
    ...                                   optimizer=optax.sgd(0.5), batch_size=32)
    >>> final, traj = games.run(solver, game, solver.init(game, params), num_steps=5,
    ...                         key=jax.random.key(0), metrics=("kl",))
    >>> print(int(final.queries), traj.kl.shape)
    3200 (6,)
  """
  if not isinstance(solver, GameSolver):
    raise TypeError(f"solver must be a GameSolver (e.g. games.nash_mp.solver(step_size=...)), got "
                    f"{type(solver).__name__}.")
  num_steps = _validate.integer("num_steps", num_steps, minimum=0)
  metrics = _check_metrics(metrics)
  state = solver.init(game) if state is None else state
  if equilibrium is None and ("kl" in metrics or "span" in metrics):
    equilibrium = solve_equilibrium(game).log_pi

  @_validate.guarded  # traced checks inside the scan body stay inside it
  def measure(s) -> dict[str, Array]:
    out = {"queries": s.queries}
    if "kl" in metrics:
      out["kl"] = kl_divergence(equilibrium, s.log_pi, logits=True)
    if "exploitability" in metrics:
      out["exploitability"] = exploitability(game, s.log_pi)
    if "span" in metrics:
      out["span"] = span_seminorm(s.log_pi, equilibrium)
    return out

  def body(s, k):
    s = solver.update(game, s) if k is None else solver.update(game, s, key=k)
    return s, measure(s)

  keys = None if key is None else jax.random.split(key, num_steps)
  final, rec = jax.lax.scan(body, state, keys, length=num_steps)
  rec = jax.tree_util.tree_map(lambda a, b: jnp.concatenate([a[None], b]), measure(state), rec)
  return final, Trajectory(rec.get("kl"), rec.get("exploitability"), rec.get("span"), rec["queries"])


def deprecated_solver_functions(name: str, make: Callable[..., GameSolver]) -> tuple[Callable, ...]:
  """The module functions ``init``, ``update``, ``run`` of a tabular solver before it became a value.

  Each emits a ``DeprecationWarning`` naming its replacement and calls ``make(step_size=...)`` and
  :func:`run`; the results are those of the value API.
  """
  new = f"games.{name}.solver(step_size=...)"

  def init(game: PreferenceGame, log_pi0: Array | None = None) -> _solver.SolverState:
    _deprecation.warn(f"games.{name}.init(game, log_pi0)", f"{new}.init(game, log_pi0)")
    return _validate.guarded(_solver.init_state)(game, log_pi0)

  def update(game: PreferenceGame, state: _solver.SolverState, *,
             step_size: Array) -> _solver.SolverState:
    _deprecation.warn(f"games.{name}.update(game, state, step_size=...)", f"{new}.update(game, state)")
    return make(step_size=step_size).update(game, state)

  def run_(game: PreferenceGame, *, step_size: Array, num_steps: int, log_pi0: Array | None = None,
           equilibrium: Array | None = None,
           metrics: tuple[str, ...] = METRICS) -> tuple[_solver.SolverState, Trajectory]:
    _deprecation.warn(f"games.{name}.run(game, step_size=..., ...)", f"games.run({new}, game, ...)")
    solver = make(step_size=step_size)
    return run(solver, game, solver.init(game, log_pi0), num_steps=num_steps, equilibrium=equilibrium,
               metrics=metrics)

  for fn, short in ((init, "init"), (update, "update"), (run_, "run")):
    fn.__name__ = fn.__qualname__ = short
    fn.__doc__ = (f"Deprecated: use ``{new}`` and :func:`divjax.games.run` (this calls them and emits "
                  "a ``DeprecationWarning``).")
  return init, update, run_
