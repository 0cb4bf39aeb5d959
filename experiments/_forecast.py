"""Resource forecasts: what a run will cost before it runs (``python -m experiments run NAME --dry-run``).

In a dry run the harness compiles every program an experiment would execute (each :func:`sweep` and
each :func:`call` of ``experiments/_harness.py``), records it here instead of running it, and hands the
experiment placeholder outputs of the right shapes so that its ``run`` proceeds without work. The
report lists, per compiled program:

* its memory, from XLA's ``compiled.memory_analysis()`` (argument, output and temporary bytes, per
  device);
* XLA's own flop count, ``compiled.cost_analysis()["flops"]``. **XLA counts the body of every loop
  once** (a ``lax.scan`` of 1000 matmuls reports the flops of one), so it is printed for reference
  only;
* a loop-aware count from the program's jaxpr (:func:`jaxpr_cost`): matmul flops, other arithmetic,
  transcendentals (exp, log, erf, …) and sequential loop steps, with every ``scan`` body multiplied by
  its length. A ``while_loop`` (Newton, Sinkhorn with a tolerance) has no static trip count and is
  counted once, so where one occurs the count is a lower bound, marked ``≥``;
* an estimated time: each count divided by a rate. Here the rates are **measured** on this machine
  (:func:`measure_throughput`: a float32 matmul, a fused elementwise chain, ``exp`` and a short scan
  step, timed now); for one H100 they are **assumed** from the published spec (:data:`H100`), a floor
  rather than a prediction, since small kernels rarely reach peak.

The model is deliberately simple (:func:`estimate_seconds`): the larger of arithmetic time (matmul
flops, other flops and transcendentals at their rates) and memory time (the program's bytes at the
memory bandwidth), plus loop steps × step latency and operations × per-operation time. It cannot see
while loops' trip counts or how well XLA uses the machine on a given program, so ``--dry-run`` at paper
scale calibrates it: the quick configuration runs for real with every program timed, and each
program's measured/model ratio multiplies its paper-scale estimate (:func:`calibration`).
"""

from __future__ import annotations

import math
import time
from typing import Any, NamedTuple, Sequence

import numpy as np

__all__ = ["Cost", "jaxpr_cost", "Throughput", "H100", "measure_throughput", "ProgramRecord",
           "estimate_seconds", "calibration", "program_seconds", "summarize", "format_bytes",
           "format_seconds", "format_rates", "format_report", "format_summary"]


class Cost(NamedTuple):
  """Loop-aware operation counts of one program (global, over every device)."""
  matmul_flops: float = 0.0       # 2·m·n·k per dot_general
  flops: float = 0.0              # other arithmetic, one per output element
  transcendentals: float = 0.0    # exp, log, erf, … one per output element
  loop_steps: float = 0.0         # sequential loop iterations (scan lengths multiplied through)
  while_loops: int = 0            # while loops counted once (unknown trip count): a lower bound
  ops: float = 0.0                # executed operations other than data movement (loop-multiplied)

  def __add__(self, other: "Cost") -> "Cost":  # type: ignore[override]
    return Cost(*(a + b for a, b in zip(self, other)))

  def scaled(self, k: float) -> "Cost":
    return Cost(self.matmul_flops * k, self.flops * k, self.transcendentals * k,
                self.loop_steps * k, self.while_loops, self.ops * k)

  @property
  def total_flops(self) -> float:
    return self.matmul_flops + self.flops + self.transcendentals


_TRANSCENDENTAL = frozenset({
    "exp", "exp2", "log", "log1p", "expm1", "tanh", "logistic", "sin", "cos", "tan", "asin", "acos",
    "atan", "atan2", "sinh", "cosh", "asinh", "acosh", "atanh", "pow", "sqrt", "rsqrt", "cbrt", "erf",
    "erfc", "erf_inv", "lgamma", "digamma", "igamma", "igammac", "igamma_grad_a", "random_gamma_grad",
    "bessel_i0e", "bessel_i1e", "polygamma", "zeta", "regularized_incomplete_beta"})

#: Pure data movement or bookkeeping: no arithmetic.
_FREE = frozenset({
    "broadcast_in_dim", "reshape", "transpose", "squeeze", "expand_dims", "slice", "dynamic_slice",
    "dynamic_update_slice", "concatenate", "pad", "gather", "iota", "convert_element_type",
    "bitcast_convert_type", "copy", "copy_p", "rev", "select_n", "stop_gradient", "random_wrap",
    "random_unwrap", "random_seed", "random_fold_in", "random_split", "sharding_constraint",
    "device_put", "split", "pvary", "optimization_barrier", "axis_index", "name"})

#: Counter-based PRNG: ~20 rounds of add/rotate/xor per 64 output bits, counted as 32 ops/element.
_RANDOM_BITS_OPS = 32.0


def _size(aval: Any) -> float:
  shape = getattr(aval, "shape", ())
  return float(math.prod(shape)) if shape else 1.0


def _sub_jaxprs(value: Any) -> list[Any]:
  """The jaxprs held by one equation parameter (a Jaxpr, ClosedJaxpr or a tuple of them)."""
  if hasattr(value, "eqns"):
    return [value]
  if hasattr(value, "jaxpr") and hasattr(value.jaxpr, "eqns"):
    return [value.jaxpr]
  if isinstance(value, (tuple, list)):
    return [j for v in value for j in _sub_jaxprs(v)]
  return []


def _eqn_cost(eqn: Any) -> Cost:
  cost = _leaf_cost(eqn)
  if cost is None:
    return _structured_cost(eqn)
  return cost._replace(ops=0.0 if eqn.primitive.name in _FREE else 1.0)


def _structured_cost(eqn: Any) -> Cost:
  name = eqn.primitive.name
  params = eqn.params
  if name == "scan":
    body = jaxpr_cost(params["jaxpr"])
    length = float(params["length"])
    return body.scaled(length)._replace(loop_steps=length * max(1.0, body.loop_steps))
  if name == "while":
    body = jaxpr_cost(params["body_jaxpr"]) + jaxpr_cost(params["cond_jaxpr"])
    return body._replace(loop_steps=max(1.0, body.loop_steps), while_loops=body.while_loops + 1)
  if name == "cond":
    branches = [jaxpr_cost(b) for b in params["branches"]]
    return max(branches, key=lambda c: c.total_flops + c.loop_steps)
  total = Cost()
  for j in [j for v in params.values() for j in _sub_jaxprs(v)]:
    total = total + jaxpr_cost(j)  # jit, custom_jvp_call, custom_vjp_call, remat, …: the body once
  return total


def _leaf_cost(eqn: Any) -> Cost | None:
  """The cost of a primitive without sub-programs; None for scan, while, cond, jit, …"""
  name = eqn.primitive.name
  params = eqn.params
  if name in ("scan", "while", "cond") or any(_sub_jaxprs(v) for v in params.values()):
    return None
  out = max((_size(v.aval) for v in eqn.outvars), default=1.0)
  if name == "dot_general":
    (lhs_contract, _), _ = params["dimension_numbers"]
    lhs_shape = eqn.invars[0].aval.shape
    k = float(math.prod(lhs_shape[i] for i in lhs_contract)) if lhs_contract else 1.0
    return Cost(matmul_flops=2.0 * out * k)
  if name in _FREE:
    return Cost()
  if name in _TRANSCENDENTAL:
    return Cost(transcendentals=out)
  if name.startswith(("reduce_", "argmax", "argmin", "cum")):
    return Cost(flops=max(_size(v.aval) for v in eqn.invars))
  if name in ("random_bits", "threefry2x32"):
    return Cost(flops=_RANDOM_BITS_OPS * out)
  if name == "sort":
    n = float(eqn.invars[0].aval.shape[params.get("dimension", -1)] or 1)
    return Cost(flops=out * max(1.0, math.log2(max(n, 2.0))) * len(eqn.invars))
  if name in ("cholesky", "lu", "eigh", "qr", "householder_product", "svd", "triangular_solve"):
    shape = eqn.invars[0].aval.shape
    n = float(shape[-1]) if shape else 1.0
    batch = float(math.prod(shape[:-2])) if len(shape) > 2 else 1.0
    factor = {"cholesky": 1 / 3, "lu": 2 / 3, "triangular_solve": 1.0, "qr": 4 / 3,
              "householder_product": 4 / 3}.get(name, 10.0)  # eigh / svd: ~10 n³
    m = float(eqn.invars[1].aval.shape[-1]) if name == "triangular_solve" else n
    return Cost(matmul_flops=factor * batch * n * n * m)
  return Cost(flops=out)  # elementwise arithmetic, comparisons, …


def jaxpr_cost(jaxpr: Any) -> Cost:
  """Loop-aware operation counts of a (closed) jaxpr: scan bodies are multiplied by their length.

  A ``while`` body is counted once (its trip count is not static), and ``Cost.while_loops`` says how
  many such loops there were; a ``cond`` counts its dearest branch.
  """
  jaxpr = getattr(jaxpr, "jaxpr", jaxpr)
  total = Cost()
  for eqn in jaxpr.eqns:
    total = total + _eqn_cost(eqn)
  return total


class Throughput(NamedTuple):
  """Rates of one device (or of one CPU process, all cores): what :func:`estimate_seconds` divides by."""
  label: str
  matmul_flops_per_s: float
  elementwise_flops_per_s: float
  transcendentals_per_s: float
  loop_step_s: float
  op_s: float
  memory_bytes_per_s: float
  measured: bool


#: One NVIDIA H100 SXM5, **assumed** from NVIDIA's published spec sheet: 67 TFLOP/s FP32 on CUDA cores
#: (divjax's accuracy-critical float32 dots ask for ``Precision.HIGHEST``, so no TF32 tensor cores),
#: elementwise arithmetic at the same rate, transcendentals at 1/8 of it (16 special-function units
#: against 128 FP32 lanes per SM), and 10 µs per sequential loop iteration (kernel launches plus the
#: loop predicate's copy to the host), no further per-operation cost (XLA fuses most of them), and
#: 3.35 TB/s of HBM3 bandwidth. A floor, not a prediction: small kernels do not reach peak.
H100 = Throughput("one H100 (assumed peak)", 67e12, 67e12, 67e12 / 8, 10e-6, 0.0, 3.35e12,
                  measured=False)


def _best_seconds(fn, *args, repeats: int) -> float:
  import jax
  jax.block_until_ready(fn(*args))  # compile and warm up
  best = math.inf
  for _ in range(repeats):
    t0 = time.perf_counter()
    jax.block_until_ready(fn(*args))
    best = min(best, time.perf_counter() - t0)
  return best


def _probe_step(carry, _):
  """A small solver iteration (a 64-state mirror step): what sequential loops in divjax look like."""
  import jax
  import jax.numpy as jnp
  log_pi, p = carry
  logits = log_pi + 0.1 * jnp.matmul(p, jnp.exp(log_pi), precision=jax.lax.Precision.HIGHEST)
  return (jax.nn.log_softmax(logits), p), None


def measure_throughput(*, matmul_size: int = 1024, elementwise_size: int = 1 << 22,
                       loop_length: int = 4000, repeats: int = 5, label: str | None = None
                       ) -> Throughput:
  """Measures this process's default device: float32 matmul (``HIGHEST``), fused elementwise, exp,
  and the time per operation of a small sequential loop.

  Each rate is the best of ``repeats`` timed calls after a warm-up call (a few seconds in all on a
  2-core CPU at the default sizes). The per-operation time comes from a ``lax.scan`` of a small
  solver step (:func:`_probe_step`): its time less its flops at the rates above, divided by the
  operations its jaxpr executes.
  """
  import jax
  import jax.numpy as jnp
  hi = jax.lax.Precision.HIGHEST
  k = jax.random.PRNGKey(0)
  a = jax.random.normal(k, (matmul_size, matmul_size), jnp.float32)
  t_mm = _best_seconds(jax.jit(lambda x: jnp.matmul(x, x, precision=hi)), a, repeats=repeats)
  x = jax.random.uniform(k, (elementwise_size,), jnp.float32)

  def chain(v):  # 16 fused multiply-adds per element
    for _ in range(16):
      v = v * 0.999 + 0.001
    return v

  t_el = _best_seconds(jax.jit(chain), x, repeats=repeats)
  t_exp = _best_seconds(jax.jit(jnp.exp), x, repeats=repeats)
  t_copy = _best_seconds(jax.jit(lambda v: v + 1.0), x, repeats=repeats)  # reads and writes x
  probe = jax.jit(lambda c: jax.lax.scan(_probe_step, c, None, length=loop_length)[0])
  carry = (jnp.full(64, -jnp.log(64.0)), jax.random.uniform(k, (64, 64), jnp.float32))
  t_loop = _best_seconds(probe, carry, repeats=repeats)
  partial = Throughput("", 2.0 * matmul_size**3 / t_mm, 32.0 * elementwise_size / t_el,
                       elementwise_size / t_exp, 0.0, 0.0, 8.0 * elementwise_size / t_copy, True)
  cost = jaxpr_cost(jax.make_jaxpr(probe)(carry))
  op_s = max(0.0, t_loop - estimate_seconds(cost, partial)) / cost.ops
  device = jax.devices()[0]
  return partial._replace(label=label or f"this machine ({device.device_kind}, measured)", op_s=op_s)


def estimate_seconds(cost: Cost, rate: Throughput, memory_bytes: float = 0.0) -> float:
  """t = max(arithmetic time, memory time) + loop steps × step latency + operations × per-op time.

  Arithmetic time: matmul flops, other flops and transcendentals at their rates. Memory time:
  ``memory_bytes`` (a program's arguments, outputs and temporaries, each touched at least once) at
  the memory bandwidth.
  """
  compute = (cost.matmul_flops / rate.matmul_flops_per_s + cost.flops / rate.elementwise_flops_per_s
             + cost.transcendentals / rate.transcendentals_per_s)
  return (max(compute, memory_bytes / rate.memory_bytes_per_s) + cost.loop_steps * rate.loop_step_s
          + cost.ops * rate.op_s)


class ProgramRecord(NamedTuple):
  """One compiled program of a dry run."""
  name: str                # the function's name
  kind: str                # "sweep" or "call"
  batch: int               # sweep length (padded), 0 for a call
  calls: int               # how many times the run executes it
  argument_bytes: int      # from compiled.memory_analysis(), per device
  output_bytes: int
  temp_bytes: int
  xla_flops: float         # compiled.cost_analysis()["flops"], per device, loop bodies once
  cost: Cost               # loop-aware, global, per call
  compile_s: float
  measured_s: float | None = None  # all calls together, when the programs were also executed

  @property
  def peak_bytes(self) -> int:
    return self.argument_bytes + self.output_bytes + self.temp_bytes


def format_bytes(n: float) -> str:
  for unit in ("B", "KB", "MB", "GB", "TB"):
    if abs(n) < 1000 or unit == "TB":
      return f"{n:.0f} {unit}" if unit == "B" else f"{n:.3g} {unit}"
    n /= 1000.0
  return f"{n} B"  # pragma: no cover


def format_seconds(s: float) -> str:
  if s < 1:
    return f"{s * 1e3:.3g} ms"
  if s < 120:
    return f"{s:.3g} s"
  if s < 7200:
    return f"{s / 60:.3g} min"
  return f"{s / 3600:.3g} h"


def _flops(x: float) -> str:
  return f"{x:.3g}"


def calibration(programs: Sequence[ProgramRecord], rates: Throughput) -> dict[str, float]:
  """Measured over modelled seconds per program name, from a run with ``measured_s`` recorded.

  The key ``"*"`` holds the ratio over all programs, used for names the calibration run lacks.
  """
  model: dict[str, float] = {}
  measured: dict[str, float] = {}
  for p in programs:
    if p.measured_s is None:
      continue
    model[p.name] = model.get(p.name, 0.0) + program_seconds(p, rates)
    measured[p.name] = measured.get(p.name, 0.0) + p.measured_s
  out = {n: measured[n] / model[n] for n in model if model[n] > 0}
  if sum(model.values()) > 0:
    out["*"] = sum(measured.values()) / sum(model.values())
  return out


def program_seconds(p: ProgramRecord, rates: Throughput,
                    calibration: dict[str, float] | None = None) -> float:
  """Estimated seconds of all of a program's calls; times its calibration factor when given."""
  t = estimate_seconds(p.cost, rates, p.peak_bytes) * p.calls
  if calibration:
    t *= calibration.get(p.name, calibration.get("*", 1.0))
  return t


def format_report(name: str, scale: str, programs: Sequence[ProgramRecord],
                  rates: Sequence[Throughput], calibration: dict[str, float] | None = None,
                  outside_s: float = 0.0, compile_s: float = 0.0) -> str:
  """The per-program table and the totals of one experiment's dry run.

  ``rates[0]`` is this machine's (calibrated when ``calibration`` is given); the others are
  assumed rates, reported as floors.
  """
  here, others = rates[0], list(rates[1:])
  lines = [f"{name} ({scale} scale): {len(programs)} compiled program(s), none executed, nothing written"]
  head = ["program", "calls", "batch", "args", "outputs", "temp", "XLA flops*", "flops", "loop steps",
          "t here (model)"]
  head += ["t here (calibrated)"] if calibration else []
  head += [f"t {r.label.split(' (')[0]} (floor)" for r in others]
  rows = []
  for p in programs:
    lb = "≥" if p.cost.while_loops else ""
    row = [p.name, str(p.calls), str(p.batch or "-"), format_bytes(p.argument_bytes),
           format_bytes(p.output_bytes), format_bytes(p.temp_bytes), _flops(p.xla_flops),
           lb + _flops(p.cost.total_flops * p.calls), lb + _flops(p.cost.loop_steps * p.calls),
           lb + format_seconds(program_seconds(p, here))]
    if calibration:
      factor = calibration.get(p.name)
      row.append(format_seconds(program_seconds(p, here, calibration))
                 + ("" if factor is not None else " (experiment's factor)"))
    row += [lb + format_seconds(program_seconds(p, r)) for r in others]
    rows.append(row)
  widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(head)]
  fmt = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()
  lines += [fmt(head), "  ".join("-" * w for w in widths), *map(fmt, rows)]
  totals = summarize(programs, rates, calibration, outside_s, compile_s)
  lines.append(
      f"peak program memory {format_bytes(totals['peak_bytes'])} per device; "
      f"{'≥' if totals['lower_bound'] else ''}{_flops(totals['flops'])} flops; compiling "
      f"{format_seconds(compile_s)} and work outside sweeps and calls {format_seconds(outside_s)} "
      f"(both measured in this dry run); estimated total here {format_seconds(totals['here_s'])}"
      + ("" if calibration else " (uncalibrated model)") + "; "
      + "; ".join(f"{r.label}: ≥ {format_seconds(totals['floor_s'][r.label])} of programs"
                  for r in others))
  lines.append("* XLA's cost_analysis counts each loop body once; flops and loop steps here multiply "
               "scan bodies by their length (≥: while loops counted once).")
  return "\n".join(lines)


def summarize(programs: Sequence[ProgramRecord], rates: Sequence[Throughput],
              calibration: dict[str, float] | None = None, outside_s: float = 0.0,
              compile_s: float = 0.0) -> dict[str, Any]:
  """Totals of a dry run: the largest program's memory, flops, estimated seconds here (programs,
  calibrated when given, plus the measured ``outside_s`` and ``compile_s``) and the floors of the
  programs at the other rates."""
  here, others = rates[0], rates[1:]
  return {
      "programs": len(programs),
      "peak_bytes": max((p.peak_bytes for p in programs), default=0),
      "flops": sum(p.cost.total_flops * p.calls for p in programs),
      "lower_bound": any(p.cost.while_loops for p in programs),
      "calibrated": bool(calibration),
      "here_s": sum(program_seconds(p, here, calibration) for p in programs) + outside_s + compile_s,
      "floor_s": {r.label: sum(program_seconds(p, r) for p in programs) for r in others},
  }


def format_rates(rates: Sequence[Throughput]) -> str:
  """One line per rate set: what the estimated times divide by, and whether it was measured."""
  lines = ["rates used for the estimated times:"]
  for r in rates:
    how = "measured now" if r.measured else "assumed from the published spec"
    lines.append(f"  {r.label}: matmul {r.matmul_flops_per_s / 1e9:.3g} GFLOP/s, elementwise "
                 f"{r.elementwise_flops_per_s / 1e9:.3g} GFLOP/s, exp {r.transcendentals_per_s / 1e9:.3g} G/s, "
                 f"memory {r.memory_bytes_per_s / 1e9:.3g} GB/s, loop step {r.loop_step_s * 1e6:.3g} µs, "
                 f"per operation {r.op_s * 1e6:.3g} µs ({how})")
  return "\n".join(lines)


def format_summary(rows: Sequence[tuple[str, dict[str, Any]]], rates: Sequence[Throughput]) -> str:
  """The closing table of ``--dry-run``: one line per experiment."""
  head = ["experiment", "programs", "peak program memory", "flops", "est. here",
          *[f"{r.label.split(' (')[0]} floor" for r in rates[1:]]]
  body = []
  for name, s in rows:
    lb = "≥" if s["lower_bound"] else ""
    body.append([name, str(s["programs"]), format_bytes(s["peak_bytes"]), lb + _flops(s["flops"]),
                 format_seconds(s["here_s"]) + ("" if s["calibrated"] else " (model)"),
                 *[lb + format_seconds(s["floor_s"][r.label]) for r in rates[1:]]])
  widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(head)]
  fmt = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()
  return "\n".join([fmt(head), "  ".join("-" * w for w in widths), *map(fmt, body)])
