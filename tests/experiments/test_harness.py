"""The experiment harness: atomic results, metadata, caching, failure isolation, CLI, sharded sweeps."""

import csv
import dataclasses
import json
import os
import pathlib
import sys
import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments import _cli, _harness

# ---------------------------------------------------------------------------------------------------
# A toy experiment registered under a private name.


@dataclasses.dataclass(frozen=True)
class ToyConfig:
  n: int = 8
  scale: float = 2.0

  @classmethod
  def quick(cls):
    return cls()

  @classmethod
  def paper(cls):
    return cls(n=64)


def _toy_module(name, *, fail_run=False, fail_plot=False, check=True):
  module = types.ModuleType(f"experiments.{name}")
  module.NAME = name
  module.DESCRIPTION = "a toy: y = scale * x over a sharded sweep"
  module.Config = ToyConfig
  module.calls = 0

  def run(config, *, seed=0):
    module.calls += 1
    if fail_run:
      raise RuntimeError("toy failure")
    timer = _harness.Timer()
    x = jnp.arange(config.n, dtype=jnp.float32) + seed
    y = _harness.sweep(lambda v: config.scale * v, x, timer=timer)
    rows = [{"x": float(a), "y": float(b)} for a, b in zip(x, y)]
    gap = float(np.max(np.abs(np.asarray(y) - config.scale * np.asarray(x))))
    return {"tables": {"points": rows}, "summary": {"n": config.n},
            "gap": {"metric": "max |y − 2x|", "value": gap, "tolerance": 1e-6},
            "checks": {"linear": check and gap < 1e-6}, "timings": timer.as_dict()}

  def plot(results):
    if fail_plot:
      raise RuntimeError("plot failure")
    from divjax import plotting
    fig, axes = plotting.new_figure()
    pts = results["tables"]["points"]
    plotting.plot_measurement(axes[0, 0], [p["x"] for p in pts], [p["y"] for p in pts])
    return fig

  module.run, module.plot = run, plot
  return module


@pytest.fixture
def toy(monkeypatch):
  """Registers toy experiments; returns a function making more."""
  names = []

  def make(name, **kwargs):
    module = _toy_module(name, **kwargs)
    monkeypatch.setitem(sys.modules, f"experiments.{name}", module)
    names.append(name)
    monkeypatch.setattr(_harness, "EXPERIMENTS", tuple(names))
    return module

  return make


# ---------------------------------------------------------------------------------------------------
# Results files and metadata.


def test_run_writes_results_csv_and_figures_with_metadata(toy, tmp_path):
  toy("toy")
  record = _harness.run_experiment("toy", out=tmp_path, seed=3)
  assert record.status == "ok", record
  folder = tmp_path / "toy"
  assert {p.name for p in folder.iterdir()} == {"results.json", "points.csv", "figure.png",
                                                "figure.pdf"}
  doc = json.loads((folder / "results.json").read_text())
  meta = doc["metadata"]
  for key in ("config", "config_hash", "seed", "git", "versions", "device", "timings", "status",
              "scale", "started_utc", "command"):
    assert key in meta, key
  assert meta["seed"] == 3 and meta["config"] == {"n": 8, "scale": 2.0}
  assert meta["device"]["device_count"] == jax.device_count()
  assert meta["device"]["x64"] is False
  assert meta["versions"]["jax"] == jax.__version__
  assert {"compile_s", "run_s", "wall_s"} <= set(meta["timings"])
  with open(folder / "points.csv") as fh:
    rows = list(csv.DictReader(fh))
  assert [float(r["x"]) for r in rows] == list(np.arange(8) + 3.0)
  assert (folder / "figure.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
  assert (folder / "figure.pdf").read_bytes()[:5] == b"%PDF-"


def test_matching_config_hash_is_skipped_unless_forced(toy, tmp_path):
  module = toy("toy")
  assert _harness.run_experiment("toy", out=tmp_path).status == "ok"
  assert _harness.run_experiment("toy", out=tmp_path).status == "cached"
  assert module.calls == 1
  assert _harness.run_experiment("toy", out=tmp_path, force=True).status == "ok"
  assert _harness.run_experiment("toy", out=tmp_path, seed=1).status == "ok"  # new hash
  assert module.calls == 3


def test_concurrent_runs_into_one_out_compute_once_and_share_the_result(toy, tmp_path):
  # Two runs of one experiment into one folder at the same time (two processes, or two xdist
  # workers): the run lock makes the second wait for the first and then read its cached result.
  import threading
  import time

  module = toy("toy")
  inner = module.run
  entered = threading.Event()

  def slow_run(config, *, seed=0):
    entered.set()
    time.sleep(0.5)  # hold the lock long enough for the second run to arrive
    return inner(config, seed=seed)

  module.run = slow_run
  records = []
  first = threading.Thread(target=lambda: records.append(_harness.run_experiment("toy", out=tmp_path)))
  first.start()
  assert entered.wait(30)
  records.append(_harness.run_experiment("toy", out=tmp_path))  # arrives while the first computes
  first.join(60)
  assert sorted(r.status for r in records) == ["cached", "ok"], records
  assert module.calls == 1
  json.loads((tmp_path / "toy" / "results.json").read_text())  # whole, parseable


def test_truncated_cached_result_is_recomputed_not_trusted(toy, tmp_path):
  module = toy("toy")
  assert _harness.run_experiment("toy", out=tmp_path).status == "ok"
  path = tmp_path / "toy" / "results.json"
  path.write_text(path.read_text()[:100])  # e.g. a disk that filled up mid-write elsewhere
  assert _harness.run_experiment("toy", out=tmp_path).status == "ok"
  assert module.calls == 2
  assert json.loads(path.read_text())["metadata"]["status"] == "ok"


def test_config_hash_depends_on_config_and_seed():
  a = _harness.config_hash("toy", ToyConfig(), 0)
  assert a == _harness.config_hash("toy", ToyConfig(), 0)
  assert a != _harness.config_hash("toy", ToyConfig(n=9), 0)
  assert a != _harness.config_hash("toy", ToyConfig(), 1)


def test_failure_leaves_previous_result_untouched_and_no_partial_files(toy, tmp_path):
  toy("toy")
  assert _harness.run_experiment("toy", out=tmp_path).status == "ok"
  before = (tmp_path / "toy" / "results.json").read_text()
  # The same experiment now fails while writing its figure (an interrupted write).
  sys.modules["experiments.toy"].plot = _toy_module("toy", fail_plot=True).plot
  record = _harness.run_experiment("toy", out=tmp_path, force=True)
  assert record.status == "error" and "plot failure" in record.message
  assert (tmp_path / "toy" / "results.json").read_text() == before
  # No temp folders left behind (the run lock, .toy.lock, is kept on purpose).
  assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")) == ["toy"]


def test_failing_check_is_reported(toy, tmp_path):
  toy("toy", check=False)
  assert _harness.run_experiment("toy", out=tmp_path).status == "check failed"


def test_cli_runs_all_prints_table_and_exits_nonzero_if_one_fails(toy, tmp_path, capsys):
  toy("good")
  toy("bad", fail_run=True)
  toy("also_good")
  code = _cli.main(["run", "--all", "--out", str(tmp_path), "--figures", str(tmp_path / "figs")])
  out = capsys.readouterr().out
  assert code == 1
  lines = out.strip().splitlines()
  assert lines[0].split()[:2] == ["experiment", "status"]
  assert any(l.startswith("good") and " ok " in l for l in lines)
  assert any(l.startswith("also_good") and " ok " in l for l in lines)
  assert any(l.startswith("bad") and "error: RuntimeError: toy failure" in l for l in lines)
  assert (tmp_path / "also_good" / "results.json").exists()  # ran after the failure
  assert sorted(p.name for p in (tmp_path / "figs").iterdir()) == ["also_good.png", "good.png"]


def test_cli_list_and_plot(toy, tmp_path, capsys):
  toy("toy")
  assert _cli.main(["list"]) == 0
  assert "toy" in capsys.readouterr().out
  assert _cli.main(["run", "toy", "--out", str(tmp_path)]) == 0
  (tmp_path / "toy" / "figure.png").unlink()
  assert _cli.main(["plot", "toy", "--out", str(tmp_path)]) == 0
  assert (tmp_path / "toy" / "figure.png").exists()


def test_cli_rejects_unknown_names(toy):
  toy("toy")
  with pytest.raises(SystemExit):
    _cli.main(["run", "nope"])
  with pytest.raises(SystemExit):
    _cli.main(["run"])


def test_to_jsonable_writes_strict_json():
  doc = _harness.to_jsonable({"a": np.float32(1.5), "b": jnp.arange(3), "c": (np.inf, -np.inf, np.nan),
                              "d": np.bool_(True), "e": ToyConfig()})
  text = json.dumps(doc, allow_nan=False)
  assert json.loads(text) == {"a": 1.5, "b": [0, 1, 2], "c": ["inf", "-inf", "nan"], "d": True,
                              "e": {"n": 8, "scale": 2.0}}


# ---------------------------------------------------------------------------------------------------
# Sharded sweeps.


def test_suite_runs_with_four_fake_devices():
  # The root conftest.py sets XLA_FLAGS=--xla_force_host_platform_device_count=4 before JAX starts.
  assert jax.device_count() == 4


def test_quick_runs_compile_with_default_settings_while_tests_compile_cheaply():
  from tests.experiments._quick import subprocess_env
  if "DIVJAX_SUBPROCESS_XLA_FLAGS" not in os.environ:
    pytest.skip("the caller set XLA_FLAGS; they are used as given everywhere")
  sub = subprocess_env()["XLA_FLAGS"].split()
  assert sub == ["--xla_force_host_platform_device_count=4"]
  if os.environ.get("DIVJAX_TEST_FULL_XLA_OPT", "") in ("", "0"):
    assert "--xla_backend_optimization_level=0" in os.environ["XLA_FLAGS"].split()


@pytest.mark.parametrize("n", [1, 7, 8, 13])
def test_sharded_sweep_equals_single_device_vmap(n):
  def fn(theta, a):
    # A small nonlinear solve: 50 gradient steps on (θ − a)² + 0.1 θ⁴.
    def step(t, _):
      return t - 0.05 * jax.grad(lambda s: (s - a)**2 + 0.1 * s**4)(t), None
    return jax.lax.scan(step, theta, None, length=50)[0]

  rng = np.random.default_rng(n)
  theta = jnp.asarray(rng.normal(size=n), jnp.float32)
  a = jnp.asarray(rng.normal(size=n), jnp.float32)
  sharded, m = _harness.shard_sweep_args(theta, a)
  assert m == n
  assert len(sharded[0].sharding.device_set) == 4
  assert sharded[0].shape[0] % 4 == 0
  got = _harness.sweep(fn, theta, a)
  want = jax.vmap(fn)(theta, a)  # plain, unsharded, on the default device
  assert got.shape == (n,)
  np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-6, atol=1e-6)


def test_sweep_shared_arguments_do_not_recompile():
  timer = _harness.Timer()
  fn = lambda index, x: jax.lax.switch(index, [lambda v: v + 1.0, lambda v: 2.0 * v], x)
  x = jnp.arange(6, dtype=jnp.float32)
  first = _harness.sweep(fn, x, shared=(jnp.int32(0),), timer=timer)
  compile_after_first = timer.compile_s
  second = _harness.sweep(fn, x, shared=(jnp.int32(1),), timer=timer)
  assert timer.compile_s == compile_after_first  # cached executable reused
  np.testing.assert_allclose(first, np.arange(6) + 1.0)
  np.testing.assert_allclose(second, 2.0 * np.arange(6))


def test_sweep_rejects_mismatched_leading_axes():
  with pytest.raises(ValueError, match=r"same leading axis"):
    _harness.sweep(lambda a, b: a + b, jnp.zeros(3), jnp.zeros(4))


def test_cached_failure_is_still_reported_as_failure(toy, tmp_path):
  toy("toy", check=False)
  assert _cli.main(["run", "toy", "--out", str(tmp_path)]) == 1
  record = _harness.run_experiment("toy", out=tmp_path)
  assert record.status == "check failed (cached)"
  assert _cli.main(["run", "toy", "--out", str(tmp_path)]) == 1


def test_cache_key_covers_library_source_and_x64(toy, tmp_path, monkeypatch):
  base = _harness.config_hash("toy", ToyConfig(), 0)
  monkeypatch.setattr(_harness, "_source_digest", lambda name: "edited")
  assert _harness.config_hash("toy", ToyConfig(), 0) != base
  monkeypatch.undo()
  with jax.enable_x64(True):
    assert _harness.config_hash("toy", ToyConfig(), 0) != base


def test_stale_cleanup_spares_live_runs_and_restores_an_interrupted_swap(toy, tmp_path):
  toy("toy")
  live = tmp_path / f".toy.tmp-{1}"  # pid 1 is alive (init)
  live.mkdir(parents=True)
  dead = tmp_path / ".toy.tmp-999999999"
  dead.mkdir()
  backup = tmp_path / ".toy.tmp-999999998-old"  # a crash between the two renames
  backup.mkdir()
  (backup / "results.json").write_text("{}")
  _harness._clean_stale(tmp_path, "toy")
  assert live.exists() and not dead.exists() and not backup.exists()
  assert (tmp_path / "toy" / "results.json").read_text() == "{}"


def test_plot_failure_on_non_finite_gap_is_avoided(tmp_path):
  from experiments import fdiv_modes
  results = {"tables": {"minima": [], "theory": [{"a": 1.0, "mu": 0.0, "sigma": 1.4}]},
             "gap": {"metric": "m", "value": "inf", "tolerance": 1e-3}}
  fig = fdiv_modes.plot(results)
  assert fig is not None


def test_results_root_prefers_argument_then_environment(monkeypatch, tmp_path):
  monkeypatch.delenv("DIVJAX_RESULTS", raising=False)
  assert _harness.results_root() == pathlib.Path("results")
  monkeypatch.setenv("DIVJAX_RESULTS", str(tmp_path))
  assert _harness.results_root() == tmp_path
  assert _harness.results_root("elsewhere") == pathlib.Path("elsewhere")


def test_load_results_raises_when_the_run_fails(tmp_path):
  with pytest.raises(RuntimeError, match="no_such_experiment.*error"):
    _harness.load_results("no_such_experiment", out=tmp_path)


def test_watchdog_stops_a_hung_block_with_a_clear_error(tmp_path):
  # A hung compiled program cannot be interrupted from Python; the watchdog ends the process with
  # a message naming what hung and the timeout, and every thread's stack.
  import subprocess
  code = ("import time\n"
          "from experiments import _harness\n"
          "with _harness._watchdog(0.5, 'sweep of toy'):\n"
          "  time.sleep(60)\n")
  root = pathlib.Path(__file__).resolve().parents[2]
  proc = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True,
                        timeout=120)
  assert proc.returncode == _harness.WATCHDOG_EXIT_CODE, proc.stderr
  assert "sweep of toy did not finish within 0.5 s (DIVJAX_SWEEP_TIMEOUT)" in proc.stderr
  assert 'File "<string>", line 4' in proc.stderr  # the main thread's stack, at the sleep


def test_watchdog_is_silent_when_the_block_finishes_and_the_timeout_is_validated(monkeypatch):
  with _harness._watchdog(30, "quick"):
    pass
  monkeypatch.setenv("DIVJAX_SWEEP_TIMEOUT", "soon")
  with pytest.raises(ValueError, match="DIVJAX_SWEEP_TIMEOUT must be a number"):
    _harness._sweep_timeout()
  monkeypatch.setenv("DIVJAX_SWEEP_TIMEOUT", "0")
  assert _harness._sweep_timeout() == 0.0


# ---------------------------------------------------------------------------------------------------
# An unwritable --out, and runs stopped by SIGINT or SIGKILL.


def test_unwritable_out_is_a_clear_error_before_anything_runs(toy, tmp_path, capsys):
  module = toy("toy")
  blocker = tmp_path / "a_file"
  blocker.write_text("")
  with pytest.raises(SystemExit) as exit_info:
    _cli.main(["run", "toy", "--out", str(blocker / "results")])
  assert exit_info.value.code == 2
  assert "--out must be a writable folder; cannot create" in capsys.readouterr().err
  record = _harness.run_experiment("toy", out=blocker)
  assert record.status == "error" and "is a file" in record.message
  assert module.calls == 0  # nothing computed


def test_a_folder_without_write_permission_is_named(monkeypatch, tmp_path):
  # As root every folder is writable, so the refused write is simulated.
  def refuse(self, *args, **kwargs):
    raise PermissionError(13, "Permission denied")

  monkeypatch.setattr(pathlib.Path, "write_text", refuse)
  with pytest.raises(ValueError, match=r"cannot write in .*: Permission denied"):
    _harness.writable_folder(tmp_path)


_STOPPED_RUN = """
import pathlib, signal, sys, time
# Ctrl-C in a terminal: a process started in the background by a non-interactive shell (nohup, CI
# runners) inherits SIGINT ignored, and Python then installs no KeyboardInterrupt handler.
signal.signal(signal.SIGINT, signal.default_int_handler)
from experiments import _harness
from tests.experiments.test_harness import _toy_module
module = _toy_module("toy")
plot = module.plot
def slow_plot(results):  # called while the results are half written, in the run's temp folder
  pathlib.Path(sys.argv[2]).write_text("writing")
  time.sleep(120)
  return plot(results)
module.plot = slow_plot
sys.modules["experiments.toy"] = module
_harness.EXPERIMENTS = ("toy",)
_harness.run_experiment("toy", out=sys.argv[1])
"""


@pytest.mark.parametrize("signum", ["SIGINT", "SIGKILL"])
def test_a_run_stopped_mid_write_leaves_no_result_and_the_next_run_recovers(toy, tmp_path, signum):
  import signal
  import subprocess
  import time
  out, marker = tmp_path / "out", tmp_path / "marker"
  root = pathlib.Path(__file__).resolve().parents[2]
  proc = subprocess.Popen([sys.executable, "-c", _STOPPED_RUN, str(out), str(marker)], cwd=root,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
  try:
    deadline = time.monotonic() + 120
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
      time.sleep(0.05)
    assert marker.exists(), proc.communicate()
    assert list(out.glob(".toy.tmp-*/results.json"))  # stopped with a half-written result
    proc.send_signal(getattr(signal, signum))
    proc.communicate(timeout=60)
  finally:
    proc.kill()
  assert not (out / "toy").exists()  # no result, whole or partial, under its final name
  if signum == "SIGINT":  # Python unwinds: the temp folder is removed on the way out
    assert not list(out.glob(".toy.tmp-*"))
  toy("toy")
  record = _harness.run_experiment("toy", out=out)
  assert record.status == "ok", record
  assert json.loads((out / "toy" / "results.json").read_text())["checks"] == {"linear": True}
  assert not list(out.glob(".toy.tmp-*"))  # a dead run's temp folder is cleaned up


@pytest.mark.slow
def test_same_seed_gives_the_same_bits_for_every_experiment(tmp_path):
  # Every registered experiment at a tiny size (tests/experiments/_determinism.py), seed 0, in two
  # fresh processes with different hash seeds (so set and dict orders differ): the results must
  # agree to the last bit. The second process reuses the first's compiled programs through JAX's
  # persistent cache, which leaves the numbers to the same executables and inputs.
  import subprocess

  from tests.experiments import _determinism

  assert sorted(_determinism.TINY) == sorted(_harness.EXPERIMENTS), "add new experiments to TINY"
  env = {**os.environ, "JAX_COMPILATION_CACHE_DIR": str(tmp_path / "jax-cache"),
         "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
         "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0"}
  digests = []
  for run in (1, 2):
    out = tmp_path / f"digests-{run}.txt"
    proc = subprocess.run([sys.executable, "-m", "tests.experiments._determinism", str(out)],
                          env={**env, "PYTHONHASHSEED": str(run)}, capture_output=True, text=True,
                          timeout=1200, cwd=pathlib.Path(__file__).resolve().parents[2])
    assert proc.returncode == 0, proc.stderr[-3000:]
    digests.append(out.read_text().splitlines())
  assert len(digests[0]) == len(_determinism.TINY)
  assert digests[0] == digests[1]
