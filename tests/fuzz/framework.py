"""The fuzzing machinery: probes, argument mutations, outcome classes and the outcome table.

A :class:`Probe` is one valid call of a public function. Every argument named in ``kinds`` is then
corrupted in each way its kind allows (:data:`MUTATIONS`), one argument at a time. Each call's
outcome falls in one class:

* ``named error``  — a ``ValueError``/``TypeError`` whose message names an argument of the call;
* ``value``        — finite (or documented infinite) numbers;
* ``silent NaN``   — a result with a NaN and no error;
* ``unnamed error`` / ``deep error`` — a ``ValueError``/``TypeError`` naming no argument, or any
  other exception (a JAX/NumPy internal error).

An *invalid* input must give a named error. An *edge* input (a Python list, 1e±30 magnitudes,
duplicate points, −inf logits, a singular covariance, …) must give a named error or a value, never a
NaN; a Python list must give the same value as the array.

Traced rows (:func:`run_probe_traced`) repeat every mutation with the array arguments traced under
``jax.jit``: where the eager call raised a named error for an invalid input, ``jit`` must raise a
named error (shapes, dtypes) or give NaN — never a plausible number — and checked mode
(:func:`divjax.checks.checked`) must raise the named error; where the eager call gave a value,
``jit`` must give the same value.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from typing import Any, Callable

import jax
import numpy as np

from divjax import checks


@dataclasses.dataclass(frozen=True)
class Probe:
  """A valid call: ``fn(**args, **fixed)``; ``kinds[name]`` says how each argument may be broken.

  ``targets`` are the public functions the probe covers (default: ``fn`` itself; give them when
  ``fn`` is a wrapper, e.g. one that builds a list of layers from one argument).
  """
  name: str
  fn: Callable[..., Any]
  args: dict[str, Any]
  kinds: dict[str, str]
  fixed: dict[str, Any] = dataclasses.field(default_factory=dict)
  edges: frozenset = frozenset()  # (arg, mutation) pairs whose value is documented for this function
  # Arguments kept static (closed over) in the jit rows, besides the "count" ones; jit=False skips
  # the jit rows, for functions documented as eager-only (the reason goes in a comment at the probe).
  static: tuple = ()
  jit: bool = True
  targets: tuple = ()
  # (arg, mutation) -> why that call is not made (a documented precondition nothing can check).
  skip: dict = dataclasses.field(default_factory=dict)

  def covers(self) -> tuple[Callable[..., Any], ...]:
    return self.targets or (self.fn,)


# kind -> [(mutation, class)]; "invalid" must raise a named error, "edge" may also return a value.
MUTATIONS = {
    "prob": [("nan", "invalid"), ("inf", "invalid"), ("negative", "invalid"),
             ("unnormalised", "invalid"), ("empty", "invalid"), ("bool", "invalid"),
             ("mismatch", "invalid"), ("list", "edge"), ("point_mass", "edge")],
    "logits": [("nan", "invalid"), ("inf", "invalid"), ("empty", "invalid"), ("bool", "invalid"),
               ("mismatch", "invalid"), ("list", "edge"), ("neg_inf", "edge"), ("huge", "edge")],
    # Log-probabilities of samples (f-DPO, f-DPG, KL penalties): −inf is a zero probability.
    "logps": [("nan", "invalid"), ("empty", "edge"), ("bool", "invalid"), ("list", "edge"),
              ("neg_inf", "edge"), ("huge", "edge")],
    "real": [("nan", "invalid"), ("inf", "invalid"), ("empty", "invalid"), ("bool", "invalid"),
             ("list", "edge"), ("huge", "edge"), ("tiny", "edge")],
    "points": [("nan", "invalid"), ("inf", "invalid"), ("empty", "invalid"), ("bool", "invalid"),
               ("mismatch", "invalid"), ("list", "edge"), ("duplicates", "edge"),
               ("huge", "edge"), ("tiny", "edge")],
    # A weight matrix of a network (a layer): like points, without the duplicate-row case.
    "matrix": [("nan", "invalid"), ("inf", "invalid"), ("empty", "invalid"), ("bool", "invalid"),
               ("mismatch", "invalid"), ("list", "edge"), ("huge", "edge"), ("tiny", "edge")],
    # Samples paired row by row with a partner (x and t of a mutual information): the dimension
    # is free, the number of rows must match ("mismatch" drops a row).
    "samples": [("nan", "invalid"), ("inf", "invalid"), ("empty", "invalid"), ("bool", "invalid"),
                ("rows", "invalid"), ("list", "edge"), ("duplicates", "edge"), ("huge", "edge"),
                ("tiny", "edge")],
    "mean": [("nan", "invalid"), ("inf", "invalid"), ("mismatch", "invalid"), ("list", "edge"),
             ("huge", "edge")],
    "cov": [("nan", "invalid"), ("non_psd", "invalid"), ("asymmetric", "invalid"),
            ("mismatch", "invalid"), ("list", "edge"), ("singular", "edge")],
    "scalar": [("nan", "invalid"), ("inf", "invalid"), ("huge", "edge"), ("tiny", "edge"),
               ("zero", "edge"), ("negative", "edge")],
    "positive": [("zero", "invalid"), ("negative", "invalid"), ("nan", "invalid"),
                 ("tiny", "edge"), ("huge", "edge")],
    # A probability in [0, 1] (a drop rate, a Bayes error, a mixing weight).
    "unit": [("nan", "invalid"), ("negative", "invalid"), ("above_one", "invalid"),
             ("zero", "edge"), ("tiny", "edge")],
    # A Python integer (sizes, counts, iteration budgets): always static.
    "count": [("int_zero", "invalid"), ("int_negative", "invalid"), ("float", "invalid"),
              ("true", "invalid")],
}


def mutate(value: Any, mutation: str, where: int, magnitude: float) -> Any:
  """``value`` broken in one way (see :data:`MUTATIONS`); ``where`` picks the entry, if one."""
  if mutation == "int_zero":
    return 0
  if mutation == "int_negative":
    return -1
  if mutation == "float":
    return float(value) + 0.5
  if mutation == "true":
    return True
  a = np.array(value, dtype=np.float64)
  flat = a.reshape(-1) if a.ndim else a.reshape(1)
  i = where % max(flat.size, 1)
  if mutation in ("nan", "inf", "neg_inf"):
    flat[i] = {"nan": np.nan, "inf": np.inf, "neg_inf": -np.inf}[mutation]
    return flat.reshape(a.shape)
  if mutation == "negative":
    if a.ndim == 0:
      return -1.0 if a == 0 else -abs(float(a))
    flat[i] = -abs(flat[i]) if flat[i] != 0 else -1.0
    return flat.reshape(a.shape)
  if mutation == "above_one":
    return np.full_like(a, 1.5)
  if mutation == "unnormalised":
    return 2.0 * a
  if mutation == "point_mass":
    out = np.zeros_like(a)
    if a.ndim == 2:  # a row-stochastic matrix: every row a point mass
      out[:, i % a.shape[1]] = 1.0
    else:
      out.reshape(-1)[i] = 1.0
    return out
  if mutation == "empty":
    return np.zeros((0,) + a.shape[1:])
  if mutation == "bool":
    return a > np.median(a)
  if mutation == "list":
    return a.tolist()
  if mutation == "huge":
    return a * magnitude
  if mutation == "tiny":
    return a / magnitude
  if mutation == "zero":
    return np.zeros_like(a)
  if mutation == "rows":
    return a[:-1]
  if mutation == "duplicates":
    return np.repeat(a[:1], a.shape[0], axis=0)
  if mutation == "mismatch":
    if a.ndim == 2 and a.shape[0] == a.shape[1]:  # a covariance: one more dimension
      return np.eye(a.shape[0] + 1)
    if a.ndim == 2:  # points: one more coordinate
      return np.concatenate([a, a[:, :1]], axis=1)
    b = np.concatenate([a, a[:1]])
    return b / b.sum() if np.all(a >= 0) and np.isclose(a.sum(), 1) else b
  if mutation == "non_psd":
    w, v = np.linalg.eigh(a)
    w[0] = -abs(w[-1])
    return (v * w) @ v.T
  if mutation == "asymmetric":
    b = a.copy()
    b[0, -1] += 0.5
    return b
  if mutation == "singular":
    v = np.ones((a.shape[0], 1))
    return v @ v.T
  raise AssertionError(mutation)


def classify(probe: Probe, call: Callable[[], Any]) -> tuple[str, Any, str]:
  """(outcome class, output or None, error message) of one call."""
  try:
    out = call()
  except (ValueError, TypeError) as err:
    names = [*probe.args, *probe.fixed]
    named = any(re.search(rf"(?<![A-Za-z_]){re.escape(n)}(?![A-Za-z_])", str(err)) for n in names)
    return ("named error" if named else "unnamed error"), None, f"{type(err).__name__}: {err}"
  except Exception as err:  # noqa: BLE001 - the point is to see every other failure
    return "deep error", None, f"{type(err).__name__}: {err}"
  leaves = [np.asarray(x) for x in jax.tree_util.tree_leaves(out) if _is_numeric(x)]
  floats = [x for x in leaves if np.issubdtype(x.dtype, np.floating)]
  if any(np.isnan(x).any() for x in floats):
    return "silent NaN", out, ""
  return "value", out, ""


def _is_numeric(x: Any) -> bool:
  return isinstance(x, (int, float, np.ndarray, np.generic, jax.Array))


def _static_args(probe: Probe) -> set[str]:
  return set(probe.static) | {a for a, k in probe.kinds.items() if k == "count"}


def _compiled(probe: Probe) -> dict[bool, Callable[..., Any]]:
  """The probe's function under ``jax.jit`` and in checked mode, made once per probe run: mutations
  of the same shape and dtype (NaN, inf, a negative entry, 1e±30 scales) reuse one compiled program.
  Static arguments keep the probe's valid values (the traced rows never mutate them)."""
  static = _static_args(probe)
  closed = {**{k: v for k, v in probe.args.items() if k in static}, **probe.fixed}

  def fn(traced_args):
    return probe.fn(**traced_args, **closed)

  return {False: jax.jit(fn), True: checks.checked(fn)}


def _jit_call(probe: Probe, compiled: dict[bool, Callable[..., Any]], args: dict[str, Any],
              checked: bool) -> Callable[[], Any]:
  """``fn`` with every non-static argument traced: under ``jax.jit``, or in checked mode."""
  static = _static_args(probe)
  traced = {k: v for k, v in args.items() if k not in static}
  return lambda: compiled[checked](traced)


def _close(a: Any, b: Any) -> bool:
  def leaf_close(x, y):
    if not (_is_numeric(x) and _is_numeric(y)):
      return True
    return np.allclose(np.asarray(x, np.float64), np.asarray(y, np.float64), rtol=1e-3, atol=1e-6,
                       equal_nan=True)

  leaves_a, tree_a = jax.tree_util.tree_flatten(a)
  leaves_b, tree_b = jax.tree_util.tree_flatten(b)
  if tree_a != tree_b:
    return False
  return all(leaf_close(x, y) for x, y in zip(leaves_a, leaves_b))


def _mutations(probe: Probe, arg: str, kind: str) -> list[tuple[str, str]]:
  out = []
  for mutation, klass in MUTATIONS[kind]:
    if mutation == "mismatch" and len(probe.kinds) == 1 and kind != "logits":
      continue  # a single array has no partner to mismatch
    if (arg, mutation) in probe.skip:
      continue
    out.append((mutation, "edge" if (arg, mutation) in probe.edges else klass))
  return out


def run_probe(probe: Probe, where: int, magnitude: float) -> list[dict[str, Any]]:
  """Every mutation of every argument of ``probe``, called eagerly; one row per call."""
  _, valid, _ = classify(probe, lambda: probe.fn(**probe.args, **probe.fixed))
  rows = []
  for arg, kind in probe.kinds.items():
    for mutation, klass in _mutations(probe, arg, kind):
      args = {**probe.args, arg: mutate(probe.args[arg], mutation, where, magnitude)}
      outcome, out, message = classify(probe, lambda: probe.fn(**args, **probe.fixed))
      ok = outcome == "named error" or (klass == "edge" and outcome == "value")
      if ok and mutation == "list" and outcome == "value" and not _close(out, valid):
        outcome, ok = "list differs", False
      rows.append({"probe": probe.name, "arg": arg, "mutation": mutation, "class": klass,
                   "outcome": outcome, "ok": ok, "message": message})
  return rows


def run_probe_traced(probe: Probe, where: int, magnitude: float) -> list[dict[str, Any]]:
  """Every mutation again with the array arguments traced: under ``jax.jit``, and checked mode.

  Where the eager call raises a named error for an *invalid* input, ``jax.jit`` must give a named
  error (shapes, dtypes) or NaN — never a plausible number — and :func:`divjax.checks.checked`
  must raise a named error. Where it raises for an *edge* input (a range check against the dtype's
  limits, duplicate points, a singular covariance: checks made on concrete values only, as
  documented in :mod:`divjax.checks`), ``jax.jit`` may give NaN or the floating-point value. Where
  the eager call gives a value, ``jax.jit`` must give the same value (rtol 1e-3). Python lists and
  static arguments are left out: ``jit`` reads a list as a pytree of scalars.
  """
  if not probe.jit:
    return []
  static = _static_args(probe)
  compiled = _compiled(probe)  # dropped with this call: the compiled programs do not pile up
  rows = []
  for arg, kind in probe.kinds.items():
    if arg in static:
      continue
    for mutation, klass in _mutations(probe, arg, kind):
      if mutation == "list":
        continue
      args = {**probe.args, arg: mutate(probe.args[arg], mutation, where, magnitude)}
      eager, eager_out, _ = classify(probe, lambda: probe.fn(**args, **probe.fixed))
      if eager not in ("named error", "value"):
        continue  # the eager rows already fail
      jitted, out, message = classify(probe, _jit_call(probe, compiled, args, checked=False))
      row = {"probe": probe.name, "arg": arg, "mutation": mutation, "class": "jit"}
      if eager == "value":
        ok = jitted == "value" and _close(out, eager_out)
        outcome = "jit " + ("value" if ok else "differs" if jitted == "value" else jitted)
        rows.append({**row, "outcome": outcome, "ok": ok, "message": message})
        continue
      ok = jitted in ("named error", "silent NaN") or (klass == "edge" and jitted == "value")
      rows.append({**row, "outcome": "jit " + ("NaN" if jitted == "silent NaN" else jitted),
                   "ok": ok, "message": message})
      if jitted == "silent NaN" and klass == "invalid":
        checked, _, message = classify(probe, _jit_call(probe, compiled, args, checked=True))
        rows.append({**row, "class": "checked", "outcome": "checked " + checked,
                     "ok": checked == "named error", "message": message})
  return rows


def assert_rows(rows: list[dict[str, Any]]) -> None:
  bad = [f"{r['arg']}={r['mutation']} ({r['class']}): {r['outcome']} {r['message'][:160]}"
         for r in rows if not r["ok"]]
  assert not bad, "\n".join(bad)


OUTCOMES = ["named error", "value", "silent NaN", "unnamed error", "deep error", "list differs",
            "jit value", "jit NaN", "jit named error", "jit differs", "jit silent NaN",
            "checked named error"]


def table(rows: list[dict[str, Any]]) -> str:
  """Markdown table: probes × outcome classes (counts), failures counted in the last column."""
  classes = [c for c in OUTCOMES if any(r["outcome"] == c for r in rows)] or OUTCOMES[:2]
  other = sorted({r["outcome"] for r in rows} - set(classes))
  classes += other
  lines = ["| probe | calls | " + " | ".join(classes) + " | failing |",
           "|---|---|" + "---|" * len(classes) + "---|"]
  for name in dict.fromkeys(r["probe"] for r in rows):
    mine = [r for r in rows if r["probe"] == name]
    counts = Counter(r["outcome"] for r in mine)
    lines.append(f"| {name} | {len(mine)} | " + " | ".join(str(counts.get(c, 0)) for c in classes)
                 + f" | {sum(not r['ok'] for r in mine)} |")
  return "\n".join(lines)
