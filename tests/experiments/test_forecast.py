"""Dry runs (``--dry-run``): programs compiled and recorded, none executed, nothing written; the cost model."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments import _cli, _forecast, _harness
from tests.experiments.test_harness import ToyConfig, toy  # noqa: F401 (fixture)


def test_scan_bodies_are_multiplied_by_their_length_and_xla_counts_them_once():
  a = jnp.ones((64, 64), jnp.float32)

  def power(x):
    return jax.lax.scan(lambda c, _: (c @ x, None), x, None, length=100)[0]

  cost = _forecast.jaxpr_cost(jax.make_jaxpr(power)(a))
  assert cost.matmul_flops == 100 * 2 * 64**3
  assert cost.loop_steps == 100 and cost.while_loops == 0
  xla = jax.jit(power).lower(a).compile().cost_analysis()
  xla = xla[0] if isinstance(xla, (list, tuple)) else xla
  assert xla["flops"] < 2 * (2 * 64**3)  # the reason for the loop-aware count: one body's flops


def test_while_loops_are_counted_once_and_flagged_as_a_lower_bound():
  def halve(x):
    return jax.lax.while_loop(lambda c: jnp.sum(c) > 1.0, lambda c: 0.5 * c, x)

  cost = _forecast.jaxpr_cost(jax.make_jaxpr(halve)(jnp.ones(8)))
  assert cost.while_loops == 1 and cost.loop_steps == 1


def test_nested_scans_and_transcendentals():
  def f(x):
    inner = lambda c, _: (jnp.exp(c), None)
    outer = lambda c, _: (jax.lax.scan(inner, c, None, length=3)[0], None)
    return jax.lax.scan(outer, x, None, length=5)[0]

  cost = _forecast.jaxpr_cost(jax.make_jaxpr(f)(jnp.ones(10)))
  assert cost.transcendentals == 5 * 3 * 10
  assert cost.loop_steps == 5 * 3


def test_estimate_is_the_larger_of_arithmetic_and_memory_time_plus_overheads():
  rate = _forecast.Throughput("r", 1e9, 1e9, 1e8, 1e-6, 1e-7, 1e9, True)
  cost = _forecast.Cost(matmul_flops=1e9, flops=0.0, transcendentals=1e8, loop_steps=10, ops=100)
  assert math.isclose(_forecast.estimate_seconds(cost, rate), 2.0 + 1e-5 + 1e-5)
  assert math.isclose(_forecast.estimate_seconds(cost, rate, memory_bytes=5e9), 5.0 + 2e-5)


def test_measured_rates_are_positive_and_finite():
  rates = _forecast.measure_throughput(matmul_size=128, elementwise_size=1 << 16, loop_length=200,
                                       repeats=1)
  for value in (rates.matmul_flops_per_s, rates.elementwise_flops_per_s, rates.transcendentals_per_s,
                rates.memory_bytes_per_s):
    assert 0 < value < math.inf
  assert rates.measured and rates.op_s >= 0


def test_dry_run_compiles_records_and_executes_nothing(toy, tmp_path):
  module = toy("toy")
  calls = []
  inner = jax.jit(lambda v: 2.0 * v)

  def fn(v):
    calls.append(1)  # traced, never executed: the Python body runs at trace time only
    return inner(v)

  x = jnp.arange(8, dtype=jnp.float32)
  with _harness.dry_run() as recording:
    y = _harness.sweep(fn, x)
    z = _harness.call(lambda v: jnp.sum(v * v), x)
    _harness.sweep(fn, x + 1.0)  # the same program again: one record, two calls
  (swept, called) = recording.programs
  assert swept.kind == "sweep" and swept.calls == 2 and swept.batch == 8
  assert called.kind == "call" and called.calls == 1
  assert swept.argument_bytes == 8 * 4 // jax.device_count() and swept.output_bytes > 0
  assert y.shape == (8,) and z.shape == () and isinstance(y, np.ndarray)
  assert np.all((0.5 <= y) & (y <= 1.5))  # placeholders, not 2x
  assert module.calls == 0


def test_dry_run_with_execute_times_programs_and_returns_real_values():
  x = jnp.arange(8, dtype=jnp.float32)
  with _harness.dry_run(execute=True) as recording:
    y = _harness.sweep(lambda v: 3.0 * v, x)
  np.testing.assert_array_equal(y, 3.0 * np.arange(8))
  (record,) = recording.programs
  assert record.measured_s > 0 and record.calls == 1


def test_cli_dry_run_prints_memory_flops_and_estimates_and_writes_nothing(toy, tmp_path, capsys,
                                                                        monkeypatch):
  module = toy("toy")
  monkeypatch.chdir(tmp_path)  # results/ would appear here
  assert _cli.main(["run", "toy", "--dry-run", "--scale", "paper"]) == 0
  out = capsys.readouterr().out
  assert "toy (paper scale): 1 compiled program(s), none executed, nothing written" in out
  for column in ("args", "outputs", "temp", "XLA flops*", "t here (model)", "t here (calibrated)",
                 "t one H100 (floor)"):
    assert column in out
  assert "(measured now)" in out and "(assumed from the published spec)" in out
  assert module.calls == 2  # the paper dry run, then the quick calibration run
  assert list(tmp_path.iterdir()) == []


def test_paper_dry_run_is_calibrated_by_the_quick_run(toy):
  toy("toy")
  result = _harness.forecast("toy", scale="paper")
  assert [p.batch for p in result.programs] == [64]
  assert result.calibration is not None and "_toy_module.run.<lambda>" in result.calibration
  assert result.calibration["*"] > 0
  quick = _harness.forecast("toy", scale="quick")
  assert quick.calibration is None


def test_dry_run_reports_where_the_experiment_stopped(toy):
  module = toy("toy")

  def run(config, *, seed=0):
    _harness.sweep(lambda v: v, jnp.ones(4))
    raise ZeroDivisionError("float division by zero")

  module.run = run
  result = _harness.forecast("toy", scale="quick")
  assert len(result.programs) == 1
  assert result.message == "stopped after ZeroDivisionError: float division by zero"


def test_cli_dry_run_runs_in_one_process(toy):
  toy("toy")
  with pytest.raises(SystemExit):
    _cli.main(["run", "toy", "--dry-run", "--processes", "2"])
