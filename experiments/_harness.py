"""The experiment harness: registry, seeds, config hashes, atomic result files, metadata, sweeps.

An experiment is a module ``experiments/<name>.py`` exporting

* ``NAME`` (str) and ``DESCRIPTION`` (one line: what the figure shows);
* ``Config``: a frozen dataclass with ``quick()`` and ``paper()`` constructors;
* ``run(config, *, seed) -> dict`` — pure with respect to its inputs; returns a results dict with
  ``"tables"`` (name → list of row dicts, written as tidy CSV and kept in results.json so that the
  file is self-contained), ``"summary"`` (JSON-able),
  ``"gap"`` (``{"metric", "value", "tolerance"}``: the theory-vs-measurement gap), ``"checks"``
  (name → bool: the acceptance checks of the reproduction) and ``"timings"`` (from a :class:`Timer`);
* ``plot(results) -> matplotlib.figure.Figure`` — draws theory beside measurement from the results
  alone, so ``python -m experiments plot NAME`` can redraw a figure without re-running.

The harness writes ``<out>/<name>/{results.json, <table>.csv, figure.png, figure.pdf}`` into a
temporary folder and renames it into place, so an interrupted run leaves no half-written result.
A run whose config hash matches the stored one is skipped unless ``force``.

Experiments execute their compiled work through :func:`sweep` (batched, sharded over every device of
every process) and :func:`call` (one large unbatched program). Both cache the compiled program, time
it into a :class:`Timer`, guard it with the watchdog, and are recorded by :func:`dry_run`, which is
how ``--dry-run`` (:func:`forecast`) reports memory, flops and estimated times without executing
anything. Under several processes (``jax.distributed``) process 0 alone writes.
"""

from __future__ import annotations

import collections
import contextlib
import csv
import dataclasses
import datetime as _dt
import functools
import hashlib
import importlib
import importlib.metadata
import io
import json
import math
import os
import pathlib
import platform
import shutil
import subprocess
import sys
import time
import traceback
import types
from typing import Any, Callable, Iterator, NamedTuple, Sequence

import numpy as np

__all__ = [
    "EXPERIMENTS",
    "load",
    "config_for",
    "config_hash",
    "Timer",
    "sweep",
    "call",
    "dry_run",
    "forecast",
    "RunRecord",
    "run_experiment",
    "results_root",
    "load_results",
    "replot",
    "to_jsonable",
    "format_table",
]

#: Registered experiment modules, in the order ``run --all`` runs them.
EXPERIMENTS: tuple[str, ...] = (
    "fdiv_modes",
    "mle_risk",
    "kde_regimes",
    "nash_mp",
    "alignment_asymptotics",
    "gaussian_ib",
    "cs_ib_regression",
    "layerwise_bounds",
    "sinkhorn_kd",
)

SCALES = ("quick", "paper")
_PACKAGES = ("divjax", "jax", "jaxlib", "flax", "optax", "chex", "ott-jax", "numpy", "scipy",
             "matplotlib")


def load(name: str) -> types.ModuleType:
  """Imports and returns the experiment module ``experiments.<name>``."""
  if name not in EXPERIMENTS:
    raise ValueError(f"unknown experiment {name!r}; known: {', '.join(EXPERIMENTS)}.")
  return importlib.import_module(f"experiments.{name}")


def config_for(module: types.ModuleType, scale: str) -> Any:
  """The module's ``Config.quick()`` or ``Config.paper()``."""
  if scale not in SCALES:
    raise ValueError(f"scale must be one of {SCALES}, got {scale!r}.")
  return getattr(module.Config, scale)()


def _source_digest(name: str) -> str:
  """sha256 over the experiment module and every divjax source file (sorted by path)."""
  import divjax
  h = hashlib.sha256()
  here = pathlib.Path(__file__).resolve().parent
  files = [here / f"{name}.py", here / "_harness.py"]
  files += sorted(pathlib.Path(divjax.__file__).resolve().parent.rglob("*.py"))
  for f in files:
    if f.exists():
      h.update(str(f.name).encode())
      h.update(f.read_bytes())
  return h.hexdigest()


def config_hash(name: str, config: Any, seed: int) -> str:
  """A short stable hash of everything a result depends on.

  (experiment, resolved config, seed, the experiment's and divjax's source code, the jax version and
  the x64 flag): editing the library or the experiment invalidates cached results.
  """
  import jax
  payload = json.dumps(
      {"name": name, "config": to_jsonable(dataclasses.asdict(config)), "seed": seed,
       "source": _source_digest(name), "jax": jax.__version__,
       "x64": bool(jax.config.jax_enable_x64)}, sort_keys=True)
  return hashlib.sha256(payload.encode()).hexdigest()[:16]


# ---------------------------------------------------------------------------------------------------
# Timing and sweeps.


class Timer:
  """Accumulates compile and run seconds of the jitted calls of one experiment.

  Pass it explicitly (``sweep(fn, *args, timer=timer)``) and put ``timer.as_dict()`` in the results.
  """

  def __init__(self) -> None:
    self.compile_s = 0.0
    self.run_s = 0.0
    self.calls = 0

  @contextlib.contextmanager
  def compiling(self) -> Iterator[None]:
    t0 = time.perf_counter()
    yield
    self.compile_s += time.perf_counter() - t0

  @contextlib.contextmanager
  def running(self) -> Iterator[None]:
    t0 = time.perf_counter()
    yield
    self.run_s += time.perf_counter() - t0
    self.calls += 1

  def as_dict(self) -> dict[str, float]:
    return {"compile_s": round(self.compile_s, 4), "run_s": round(self.run_s, 4),
            "jitted_calls": self.calls}


def _sweep_mesh():
  import jax
  devices = np.asarray(jax.devices())  # every process's devices after jax.distributed.initialize
  return jax.sharding.Mesh(devices, ("sweep",))


def _put_global(x: Any, sharding: Any) -> Any:
  """``x`` (the same full value on every process) as a global array laid out by ``sharding``.

  One process: ``jax.device_put``. Several: each process supplies the shards of its own devices
  (``jax.make_array_from_callback``), so no data crosses hosts.
  """
  import jax
  if jax.process_count() == 1:
    return jax.device_put(x, sharding)
  host = np.asarray(x)
  return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])


def shard_sweep_args(*args: Any) -> tuple[tuple[Any, ...], int]:
  """Pads the leading (sweep) axis of every leaf to a multiple of the device count and shards it.

  The mesh spans every device of every process; each process must pass the same arguments (the
  experiments derive them from the seed), and supplies the shards of its own devices.

  Returns:
    ``(sharded_args, n)`` with ``n`` the original sweep length. Padding repeats the last element, so
    padded rows are valid problems whose results are dropped.
  """
  import jax
  import jax.numpy as jnp
  leaves = jax.tree_util.tree_leaves(args)
  if not leaves:
    raise ValueError("sweep needs at least one array argument.")
  n = int(np.shape(leaves[0])[0])
  for leaf in leaves:
    if np.ndim(leaf) == 0 or np.shape(leaf)[0] != n:
      raise ValueError(f"every sweep argument needs the same leading axis length {n}, got "
                       f"shape {np.shape(leaf)}.")
  mesh = _sweep_mesh()
  k = mesh.devices.size
  pad = (-n) % k

  def pad_and_put(x):
    x = jnp.asarray(x)
    if pad:
      x = jnp.concatenate([x, jnp.repeat(x[-1:], pad, axis=0)], axis=0)
    spec = jax.sharding.PartitionSpec("sweep", *([None] * (x.ndim - 1)))
    return _put_global(x, jax.sharding.NamedSharding(mesh, spec))

  return jax.tree_util.tree_map(pad_and_put, args), n


def _replicate(tree: Any) -> Any:
  """Unbatched (``shared``) arguments: replicated on every device of every process."""
  import jax
  if jax.process_count() == 1:
    return jax.tree_util.tree_map(jax.numpy.asarray, tree)
  replicated = jax.sharding.NamedSharding(_sweep_mesh(), jax.sharding.PartitionSpec())
  return jax.tree_util.tree_map(lambda x: _put_global(x, replicated), tree)


def _signature(tree: Any) -> tuple[Any, ...]:
  import jax
  leaves, treedef = jax.tree_util.tree_flatten(tree)
  return (treedef, tuple((np.shape(x), str(getattr(x, "dtype", type(x))), getattr(x, "sharding", None))
                         for x in leaves))


@functools.lru_cache(maxsize=64)
def _vmapped(fn: Callable[..., Any]) -> Callable[..., Any]:
  import jax
  return jax.jit(lambda shared, swept: jax.vmap(lambda *a: fn(*shared, *a))(*swept))


_COMPILED: "collections.OrderedDict[Any, Any]" = collections.OrderedDict()
_COMPILED_MAX = 64
_COMPILE_SECONDS: dict[Any, float] = {}


#: Exit status of a process stopped by the sweep watchdog.
WATCHDOG_EXIT_CODE = 70


def _sweep_timeout() -> float:
  """Seconds a sweep may run before the watchdog stops the process: ``$DIVJAX_SWEEP_TIMEOUT``
  (default 1800; ``0`` turns the watchdog off)."""
  raw = os.environ.get("DIVJAX_SWEEP_TIMEOUT", "1800")
  try:
    value = float(raw)
  except ValueError as err:
    raise ValueError(f"DIVJAX_SWEEP_TIMEOUT must be a number of seconds, got {raw!r}.") from err
  if not value >= 0:
    raise ValueError(f"DIVJAX_SWEEP_TIMEOUT must be >= 0 seconds, got {raw!r}.")
  return value


@contextlib.contextmanager
def _watchdog(seconds: float, what: str) -> Iterator[None]:
  """Stops the process with a clear error if the block does not finish within ``seconds``.

  A compiled XLA program that hangs (for example a runtime deadlock) cannot be interrupted from
  Python, so after printing what hung, for how long, and every thread's stack, the watchdog ends
  the process with exit status :data:`WATCHDOG_EXIT_CODE`. Nothing half-written is left: results
  are only ever moved into place whole. ``seconds <= 0`` disables it.
  """
  if not seconds or seconds <= 0:
    yield
    return
  import faulthandler
  import threading

  def fire() -> None:
    sys.stderr.write(
        f"\ndivjax watchdog: {what} did not finish within {seconds:g} s "
        "(DIVJAX_SWEEP_TIMEOUT); the process is stopped instead of hanging. Stacks:\n")
    sys.stderr.flush()
    faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
    sys.stderr.flush()
    os._exit(WATCHDOG_EXIT_CODE)

  timer = threading.Timer(seconds, fire)
  timer.daemon = True
  timer.start()
  try:
    yield
  finally:
    timer.cancel()


def _program_name(fn: Callable[..., Any]) -> str:
  """``fn``'s qualified name (``_nash_mp_kernel.fn`` for a closure), through functools.partial."""
  inner = getattr(fn, "func", fn)
  name = getattr(inner, "__qualname__", None) or getattr(inner, "__name__", None)
  return str(name or type(inner).__name__).replace("<locals>.", "")


def _compile(key: Any, lower: Callable[[], Any], timer: Timer) -> Any:
  """The compiled program for ``key`` from the cache, else ``lower().compile()`` (timed, cached)."""
  compiled = _COMPILED.get(key)
  if compiled is None:
    t0 = time.perf_counter()
    with timer.compiling():
      compiled = lower().compile()
    _COMPILE_SECONDS[key] = time.perf_counter() - t0
    _COMPILED[key] = compiled
    while len(_COMPILED) > _COMPILED_MAX:
      _COMPILE_SECONDS.pop(_COMPILED.popitem(last=False)[0], None)
  return compiled


def sweep(fn: Callable[..., Any], *args: Any, shared: tuple[Any, ...] = (),
          timer: Timer | None = None) -> Any:
  """Evaluates ``vmap(fn)`` over the leading axis of ``args``, sharded over every device.

  A 1-D mesh named ``"sweep"`` spans ``jax.devices()``, the devices of every process after
  ``jax.distributed.initialize()``; the sweep axis is padded to a multiple of the device count. Each
  process passes the same arguments and feeds its own devices' shards; the outputs are gathered so
  that every process returns the whole result (and the experiment's ``run`` continues identically
  everywhere; only process 0 writes). Compilation and execution are timed separately into
  ``timer``; the compiled program is cached per ``(fn, argument shapes)``, so calling ``sweep`` again
  with the same ``fn`` object and new values (including new ``shared`` values) does not recompile.

  In a dry run (:func:`dry_run`) the program is compiled and recorded but not executed, and
  placeholders of the output's shapes are returned.

  Args:
    fn: the single-problem function, called as ``fn(*shared, *args_i)``.
    *args: pytrees whose leaves share the leading sweep axis.
    shared: arguments passed unbatched (replicated on every device), e.g. an index selecting a
      branch with ``lax.switch`` — it stays a real conditional instead of becoming a select.
    timer: optional :class:`Timer`.

  Returns:
    ``fn``'s outputs stacked along the sweep axis (padding removed).

  A watchdog stops the process with a clear error (exit status :data:`WATCHDOG_EXIT_CODE`, every
  thread's stack on stderr) if the compiled sweep runs longer than ``$DIVJAX_SWEEP_TIMEOUT``
  seconds (default 1800, ``0`` = off): a hung run fails instead of blocking forever.
  """
  import jax
  timer = timer or Timer()
  sharded, n = shard_sweep_args(*args)
  shared = _replicate(tuple(shared))
  key = ("sweep", fn, _signature(shared), _signature(sharded))
  program = _vmapped(fn)
  compiled = _compile(key, lambda: program.lower(shared, sharded), timer)

  def execute():
    with timer.running(), _watchdog(_sweep_timeout(), f"sweep of {_program_name(fn)}"):
      out = jax.block_until_ready(compiled(shared, sharded))
    if jax.process_count() > 1:  # bring every process's shards to every process
      from jax.experimental import multihost_utils
      out = multihost_utils.process_allgather(out, tiled=True)
    return out

  if _RECORDING is not None:
    out = _RECORDING.record(key, "sweep", fn, program, compiled, (shared, sharded), execute,
                            batch=int(jax.tree_util.tree_leaves(sharded)[0].shape[0]))
  else:
    out = execute()
  return jax.tree_util.tree_map(lambda x: x[:n], out)


@functools.lru_cache(maxsize=64)
def _jitted(fn: Callable[..., Any]) -> Callable[..., Any]:
  import jax
  return jax.jit(fn)


def call(fn: Callable[..., Any], *args: Any, timer: Timer | None = None) -> Any:
  """``jax.jit(fn)(*args)`` as one compiled program that a dry run records like a sweep.

  For an experiment's large unbatched programs (the sweeps cover the batched ones): the program is
  cached per ``(fn, argument shapes)``, compile and run seconds go to ``timer``, and the watchdog
  applies. It runs on this process's default device; under several processes each computes it
  (the same value) for itself. Static arguments go in a ``functools.partial``.

  In a dry run (:func:`dry_run`) it is compiled and recorded but not executed, and placeholders
  of the output's shapes are returned.
  """
  import jax
  timer = timer or Timer()
  program = _jitted(fn)
  key = ("call", fn, _signature(args))
  compiled = _compile(key, lambda: program.lower(*args), timer)

  def execute():
    with timer.running(), _watchdog(_sweep_timeout(), f"call of {_program_name(fn)}"):
      return jax.block_until_ready(compiled(*args))

  if _RECORDING is not None:
    return _RECORDING.record(key, "call", fn, program, compiled, args, execute, batch=0)
  return execute()


# ---------------------------------------------------------------------------------------------------
# Dry runs: compile and record every program, execute none.


class _Recording:
  """The programs of one dry run, in first-call order, with their call counts."""

  def __init__(self, execute: bool) -> None:
    self.execute = execute
    self.programs: "collections.OrderedDict[Any, Any]" = collections.OrderedDict()
    self.overhead_s = 0.0  # analysis and placeholders: time a real run would not spend

  def record(self, key: Any, kind: str, fn: Callable[..., Any], program: Any, compiled: Any,
             args: tuple[Any, ...], execute: Callable[[], Any], *, batch: int) -> Any:
    import jax
    from experiments import _forecast
    t0 = time.perf_counter()
    if key not in self.programs:
      memory = compiled.memory_analysis()
      costs = compiled.cost_analysis() or {}
      costs = costs[0] if isinstance(costs, (list, tuple)) else costs
      self.programs[key] = _forecast.ProgramRecord(
          name=_program_name(fn), kind=kind, batch=batch, calls=0,
          argument_bytes=int(getattr(memory, "argument_size_in_bytes", 0)),
          output_bytes=int(getattr(memory, "output_size_in_bytes", 0)),
          temp_bytes=int(getattr(memory, "temp_size_in_bytes", 0)),
          xla_flops=float(costs.get("flops", 0.0)),
          cost=_forecast.jaxpr_cost(jax.make_jaxpr(program)(*args)),
          compile_s=_COMPILE_SECONDS.get(key, 0.0), measured_s=0.0 if self.execute else None)
    record = self.programs[key]
    if not self.execute:
      self.programs[key] = record._replace(calls=record.calls + 1)
      out = jax.tree_util.tree_map(_placeholder, jax.eval_shape(program, *args))
      self.overhead_s += time.perf_counter() - t0
      return out
    self.overhead_s += time.perf_counter() - t0
    t0 = time.perf_counter()
    out = execute()
    self.programs[key] = record._replace(calls=record.calls + 1,
                                         measured_s=record.measured_s + time.perf_counter() - t0)
    return out


def _placeholder(shape: Any) -> np.ndarray:
  """A dry run's stand-in for an output: floats drawn from U(0.5, 1.5) with a fixed seed (not a
  constant: the experiments divide by spreads and take logs), integers 1, booleans True."""
  dtype = np.dtype(shape.dtype)
  if np.issubdtype(dtype, np.floating) or np.issubdtype(dtype, np.complexfloating):
    return np.random.default_rng(0).uniform(0.5, 1.5, shape.shape).astype(dtype)
  return np.ones(shape.shape, dtype)


_RECORDING: _Recording | None = None


@contextlib.contextmanager
def dry_run(*, execute: bool = False) -> Iterator[Any]:
  """Records every program :func:`sweep` and :func:`call` compile within this block.

  By default they are compiled and not executed, and return placeholders of their outputs' shapes
  (:func:`_placeholder`). ``execute=True`` runs them as usual and also records each one's measured
  seconds (the calibration of :func:`forecast`, and ``benchmarks/bench_forecast.py``).

  Yields:
    An object whose ``programs`` (:class:`experiments._forecast.ProgramRecord`, in first-call
    order) and ``overhead_s`` (seconds spent analysing programs and making placeholders) are
    complete when the block ends.
  """
  global _RECORDING
  previous, _RECORDING = _RECORDING, _Recording(execute)
  recording = _RECORDING
  try:
    yield recording
  finally:
    recording.programs = list(recording.programs.values())
    _RECORDING = previous


# ---------------------------------------------------------------------------------------------------
# Serialisation.


def to_jsonable(x: Any) -> Any:
  """Converts results (NumPy/JAX arrays and scalars, tuples, dataclasses) to strict JSON values.

  Non-finite floats become the strings ``"inf"``, ``"-inf"`` and ``"nan"``.
  """
  if dataclasses.is_dataclass(x) and not isinstance(x, type):
    return to_jsonable(dataclasses.asdict(x))
  if isinstance(x, dict):
    return {str(k): to_jsonable(v) for k, v in x.items()}
  if isinstance(x, (list, tuple)):
    return [to_jsonable(v) for v in x]
  if isinstance(x, (bool, np.bool_)):
    return bool(x)
  if isinstance(x, (int, np.integer)):
    return int(x)
  if isinstance(x, (float, np.floating)):
    v = float(x)
    if math.isfinite(v):
      return v
    return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
  if hasattr(x, "__array__"):
    return to_jsonable(np.asarray(x).tolist())
  return x


def _write_csv(path: pathlib.Path, rows: Sequence[dict[str, Any]]) -> None:
  rows = [to_jsonable(r) for r in rows]
  columns: list[str] = []
  for r in rows:
    for k in r:
      if k not in columns:
        columns.append(k)
  with open(path, "w", newline="") as fh:
    writer = csv.DictWriter(fh, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)


# ---------------------------------------------------------------------------------------------------
# Metadata.


def _git_sha() -> dict[str, Any]:
  root = pathlib.Path(__file__).resolve().parent.parent
  try:
    sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                         timeout=10, check=True).stdout.strip()
    dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                                capture_output=True, text=True, timeout=10).stdout.strip())
    return {"sha": sha, "dirty": dirty}
  except (OSError, subprocess.SubprocessError):
    return {"sha": None, "dirty": None}


def _versions() -> dict[str, str | None]:
  out = {"python": platform.python_version()}
  for pkg in _PACKAGES:
    try:
      out[pkg] = importlib.metadata.version(pkg)
    except importlib.metadata.PackageNotFoundError:
      out[pkg] = None
  return out


def _device_info() -> dict[str, Any]:
  import jax
  devices = jax.devices()
  return {
      "backend": jax.default_backend(),
      "device_kind": devices[0].device_kind,
      "device_count": len(devices),
      "process_count": jax.process_count(),
      "x64": bool(jax.config.jax_enable_x64),
      "platform": platform.platform(),
  }


# ---------------------------------------------------------------------------------------------------
# Running.


class RunRecord(NamedTuple):
  """One line of the final summary table."""
  name: str
  status: str            # "ok", "cached", "check failed" or "error"
  gap: str               # the theory-vs-measurement gap, formatted
  seconds: float
  path: str
  message: str = ""


def _format_gap(gap: dict[str, Any] | None) -> str:
  if not gap:
    return "-"
  value = gap.get("value")
  tol = gap.get("tolerance")
  v = f"{value:.3g}" if isinstance(value, (int, float)) else str(value)
  t = f" (tol {tol:.2g})" if isinstance(tol, (int, float)) else ""
  return f"{gap.get('metric', 'gap')} = {v}{t}"


def _status(results: dict[str, Any]) -> str:
  checks = results.get("checks", {})
  return "ok" if all(bool(v) for v in checks.values()) else "check failed"


def _pid_alive(pid: int) -> bool:
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  except PermissionError:
    return True
  return True


def _clean_stale(out: pathlib.Path, name: str) -> None:
  """Removes temp folders of *dead* runs; restores a backup a crash left between the two renames."""
  if not out.exists():
    return
  final = out / name
  for stale in sorted(out.glob(f".{name}.tmp-*")):
    parts = stale.name.split("-")
    try:
      pid = int(parts[1])
    except (IndexError, ValueError):
      continue
    if pid != os.getpid() and _pid_alive(pid):
      continue  # another run in progress
    if stale.name.endswith("-old") and not final.exists():
      os.replace(stale, final)
    else:
      shutil.rmtree(stale, ignore_errors=True)


def writable_folder(out: str | os.PathLike, *, what: str = "out") -> pathlib.Path:
  """``out`` as a folder this process can write to (created if missing), or a clear ``ValueError``.

  Checked before any experiment runs, so an unusable results root costs no compute and names the
  path and the reason (a file in the way, no permission, a read-only file system).
  """
  path = pathlib.Path(out)
  if path.exists() and not path.is_dir():
    raise ValueError(f"{what} must be a writable folder; {str(path)!r} is a file.")
  try:
    path.mkdir(parents=True, exist_ok=True)
  except OSError as err:
    raise ValueError(f"{what} must be a writable folder; cannot create {str(path)!r}: "
                     f"{err.strerror or err}.") from err
  probe = path / f".write-probe-{os.getpid()}"
  try:
    probe.write_text("")
    probe.unlink()
  except OSError as err:
    raise ValueError(f"{what} must be a writable folder; cannot write in {str(path)!r}: "
                     f"{err.strerror or err}.") from err
  return path


@contextlib.contextmanager
def _run_lock(out: pathlib.Path, name: str) -> Iterator[None]:
  """Serialises runs of one experiment into one ``out`` across processes (``fcntl.flock``).

  A second run into the same folder waits for the first, then finds its result in the cache
  instead of computing it again. The lock is released by the OS if its holder dies. Where
  ``fcntl`` is unavailable (Windows) runs are not serialised; the atomic renames still keep every
  result whole.
  """
  try:
    import fcntl
  except ImportError:  # pragma: no cover - Windows
    yield
    return
  out.mkdir(parents=True, exist_ok=True)
  with open(out / f".{name}.lock", "a+") as handle:
    fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
    try:
      yield
    finally:
      fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _write_figure(module, results: dict[str, Any], stem: pathlib.Path) -> None:
  from divjax.plotting import save_figure
  fig = module.plot(results)
  save_figure(fig, stem)


def _copy_figure(src: pathlib.Path, figures_dir: pathlib.Path, name: str) -> None:
  figures_dir.mkdir(parents=True, exist_ok=True)
  dst = figures_dir / f"{name}.png"
  tmp = figures_dir / f".{name}.png.tmp-{os.getpid()}"
  shutil.copyfile(src, tmp)
  os.replace(tmp, dst)


def _is_main_process() -> bool:
  """Process 0 of a multi-process run (``jax.distributed``), or the only process."""
  import jax
  return jax.process_index() == 0


def _agree(flag: bool) -> bool:
  """Process 0's ``flag`` on every process (one process: ``flag``)."""
  import jax
  if jax.process_count() == 1:
    return flag
  from jax.experimental import multihost_utils
  return bool(multihost_utils.broadcast_one_to_all(np.int32(flag)))


def run_experiment(name: str,
                   *,
                   scale: str = "quick",
                   seed: int = 0,
                   out: str | os.PathLike = "results",
                   force: bool = False,
                   figures: str | os.PathLike | None = None,
                   config: Any | None = None) -> RunRecord:
  """Runs one experiment and writes its results atomically; never raises for the experiment's errors.

  Under several processes (``jax.distributed.initialize`` before the first JAX call; see
  ``python -m experiments run --processes`` and docs/scaling.md) every process runs the
  experiment, whose sweeps span every process's devices, and process 0 alone takes the run lock,
  decides whether a cached result is reused (the others follow its decision) and writes the results;
  the other processes write nothing.

  Args:
    name: a registered experiment.
    scale: ``"quick"`` (a minute on a laptop CPU) or ``"paper"`` (accelerator scale).
    seed: the root PRNG seed.
    out: the results root; files go to ``out/name/``.
    force: re-run even when a result with the same config hash exists.
    figures: if given, also copy ``figure.png`` to ``figures/name.png`` (for the README).
    config: an explicit ``Config`` overriding ``scale`` (tests use smaller ones).

  Returns:
    A :class:`RunRecord` for the summary table.
  """
  t0 = time.perf_counter()
  out = pathlib.Path(out)
  final = out / name
  scale_label = scale if config is None else "custom"
  try:
    module = load(name)
    config = config if config is not None else config_for(module, scale)
    chash = config_hash(name, config, seed)
    main = _is_main_process()
    if main:
      writable_folder(out)
    with _run_lock(out, name) if main else contextlib.nullcontext():
      return _run_locked(module, name, config, chash, scale_label=scale_label, seed=seed, out=out,
                         force=force, figures=figures, t0=t0, main=main)
  except Exception as err:  # one failing experiment must not stop the others
    tb = io.StringIO()
    traceback.print_exc(file=tb)
    sys.stderr.write(tb.getvalue())
    return RunRecord(name, "error", "-", time.perf_counter() - t0, str(final),
                     f"{type(err).__name__}: {err}")


def _cached_record(name: str, chash: str, out: pathlib.Path,
                   figures: str | os.PathLike | None, t0: float) -> RunRecord | None:
  """The record of a stored result with config hash ``chash``, or None if there is none."""
  final = out / name
  existing = final / "results.json"
  if not existing.exists():
    return None
  try:
    stored = json.loads(existing.read_text())
  except (OSError, json.JSONDecodeError):
    return None
  meta = stored.get("metadata", {})
  if meta.get("config_hash") != chash:
    return None
  if figures is not None and (final / "figure.png").exists():
    _copy_figure(final / "figure.png", pathlib.Path(figures), name)
  # A cached failure is still a failure.
  status = "cached" if meta.get("status") == "ok" else f"{meta.get('status')} (cached)"
  return RunRecord(name, status, _format_gap(stored.get("gap")), time.perf_counter() - t0, str(final))


def _run_locked(module, name: str, config: Any, chash: str, *, scale_label: str, seed: int,
                out: pathlib.Path, force: bool, figures: str | os.PathLike | None,
                t0: float, main: bool = True) -> RunRecord:
  """The body of :func:`run_experiment`, under the experiment's lock (process 0); may raise."""
  final = out / name
  cached = None if force or not main else _cached_record(name, chash, out, figures, t0)
  if _agree(cached is not None):
    if cached is not None:
      return cached
    return RunRecord(name, "cached", "-", time.perf_counter() - t0, str(final),
                     "process 0 reused its stored result")
  if main:
    _clean_stale(out, name)
  started = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
  t_run = time.perf_counter()
  results = module.run(config, seed=seed)
  wall = time.perf_counter() - t_run
  status = _status(results)
  if not main:
    import jax
    return RunRecord(name, status, _format_gap(results.get("gap")), time.perf_counter() - t0,
                     str(final), f"process {jax.process_index()}: written by process 0")
  metadata = {
      "experiment": name,
      "description": getattr(module, "DESCRIPTION", ""),
      "scale": scale_label,
      "config": dataclasses.asdict(config),
      "config_hash": chash,
      "seed": seed,
      "status": status,
      "git": _git_sha(),
      "versions": _versions(),
      "device": _device_info(),
      "timings": {**results.get("timings", {}), "wall_s": round(wall, 4)},
      "started_utc": started,
      "command": " ".join([os.path.basename(sys.executable), *sys.argv]),
  }
  document = {"metadata": metadata, **results}
  out.mkdir(parents=True, exist_ok=True)
  tmp = out / f".{name}.tmp-{os.getpid()}"
  shutil.rmtree(tmp, ignore_errors=True)
  tmp.mkdir()
  try:
    (tmp / "results.json").write_text(json.dumps(to_jsonable(document), indent=2) + "\n")
    for table, rows in results.get("tables", {}).items():
      _write_csv(tmp / f"{table}.csv", rows)
    _write_figure(module, json.loads((tmp / "results.json").read_text()), tmp / "figure")
    if final.exists():
      old = out / f".{name}.tmp-{os.getpid()}-old"
      os.replace(final, old)
      os.replace(tmp, final)
      shutil.rmtree(old, ignore_errors=True)
    else:
      os.replace(tmp, final)
  finally:
    shutil.rmtree(tmp, ignore_errors=True)
  if figures is not None:
    _copy_figure(final / "figure.png", pathlib.Path(figures), name)
  return RunRecord(name, status, _format_gap(results.get("gap")), time.perf_counter() - t0,
                   str(final))


class Forecast(NamedTuple):
  """What :func:`forecast` found: the compiled programs of one experiment at one scale."""
  name: str
  scale: str
  programs: list[Any]        # experiments._forecast.ProgramRecord, first-call order
  seconds: float             # wall time of the dry run itself
  compile_s: float           # of which compiling the programs
  outside_s: float           # of which the experiment's own work outside sweep/call, run for real
  calibration: dict[str, float] | None  # program name → measured/model seconds at quick scale
  message: str = ""          # an error the experiment's own code raised on the placeholder outputs


def _record_run(module, config: Any, seed: int, *, execute: bool) -> tuple[Any, float, str]:
  """Runs ``module.run`` under :func:`dry_run`; returns (recording, wall seconds, error message)."""
  import warnings
  message = ""
  t0 = time.perf_counter()
  with dry_run(execute=execute) as recording:
    with np.errstate(all="ignore"), warnings.catch_warnings():
      warnings.simplefilter("ignore")
      try:
        module.run(config, seed=seed)
      except Exception as err:  # its own code on placeholders; the programs so far stand
        if execute:
          raise
        message = f"stopped after {type(err).__name__}: {err}"
  return recording, time.perf_counter() - t0, message


def forecast(name: str, *, scale: str = "quick", seed: int = 0, config: Any | None = None,
             calibrate: bool | None = None, rates: Any | None = None) -> Forecast:
  """Dry-runs one experiment: compiles every program it would execute, runs none, writes nothing.

  ``run`` proceeds on placeholder outputs of the right shapes (numerical warnings from them are
  silenced); if its own post-processing raises on them, the programs compiled up to that point are
  returned with the error in ``message``. Work outside :func:`sweep` and :func:`call` runs for real
  and is timed (``outside_s``).

  With ``calibrate`` (default: when ``scale`` is not quick) the quick configuration also runs, for
  real, with every program timed: each program's measured over modelled seconds
  (``Forecast.calibration``) corrects what the loop-aware model cannot see — while loops' trip
  counts (Newton, Sinkhorn, rejection samplers) and this machine's efficiency on each program.
  ``rates`` (:func:`experiments._forecast.measure_throughput`, measured if not given) are the rates
  the calibration is relative to; report with the same ones.
  """
  from experiments import _forecast
  module = load(name)
  config = config if config is not None else config_for(module, scale)
  recording, wall, message = _record_run(module, config, seed, execute=False)
  programs = recording.programs
  compile_s = sum(p.compile_s for p in programs)
  outside_s = max(0.0, wall - compile_s - recording.overhead_s)
  calibration = None
  if calibrate if calibrate is not None else scale != "quick":
    rates = rates or _forecast.measure_throughput()
    quick, _, _ = _record_run(module, config_for(module, "quick"), seed, execute=True)
    calibration = _forecast.calibration(quick.programs, rates)
  return Forecast(name, scale, programs, wall, compile_s, outside_s, calibration, message)


def results_root(out: str | os.PathLike | None = None) -> pathlib.Path:
  """The results root: ``out`` if given, else ``$DIVJAX_RESULTS``, else ``results/``.

  CI points ``DIVJAX_RESULTS`` at the folder its main job wrote, so the end-to-end tests and the
  notebooks reuse those runs (the config hash covers config, seed, sources and jax version) instead
  of recomputing them.
  """
  if out is not None:
    return pathlib.Path(out)
  return pathlib.Path(os.environ.get("DIVJAX_RESULTS") or "results")


def load_results(name: str, *, scale: str = "quick", seed: int = 0,
                 out: str | os.PathLike | None = None, force: bool = False) -> dict[str, Any]:
  """Runs ``name`` through :func:`run_experiment` (reusing a cached result) and returns its JSON.

  This is what the notebooks call: the returned document is exactly what ``results.json`` holds
  (``metadata``, ``tables``, ``summary``, ``gap``, ``checks``, ``timings``), so ``module.plot`` can
  draw it.

  Raises:
    RuntimeError: if the run (or the cached run) did not finish with status ``ok``.
  """
  root = results_root(out)
  record = run_experiment(name, scale=scale, seed=seed, out=root, force=force)
  if record.status not in ("ok", "cached"):
    raise RuntimeError(f"experiment {name!r} finished with status {record.status!r}: "
                       f"{record.message or 'see results.json checks'}")
  return json.loads((root / name / "results.json").read_text())


def replot(name: str, *, out: str | os.PathLike = "results",
           figures: str | os.PathLike | None = None) -> RunRecord:
  """Redraws ``out/name/figure.{png,pdf}`` from the stored ``results.json``."""
  t0 = time.perf_counter()
  final = pathlib.Path(out) / name
  try:
    module = load(name)
    stored = json.loads((final / "results.json").read_text())
    _write_figure(module, stored, final / "figure")
    if figures is not None:
      _copy_figure(final / "figure.png", pathlib.Path(figures), name)
    return RunRecord(name, "plotted", _format_gap(stored.get("gap")), time.perf_counter() - t0,
                     str(final))
  except Exception as err:
    return RunRecord(name, "error", "-", time.perf_counter() - t0, str(final),
                     f"{type(err).__name__}: {err}")


def format_table(records: Sequence[RunRecord]) -> str:
  """The final summary table (experiment, status, gap, seconds, output path)."""
  header = ("experiment", "status", "theory-vs-measurement gap", "seconds", "output")
  rows = [(r.name, r.status + (f": {r.message}" if r.message else ""), r.gap, f"{r.seconds:.1f}",
           r.path) for r in records]
  widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
  line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()
  sep = "  ".join("-" * w for w in widths)
  return "\n".join([line(header), sep, *(line(r) for r in rows)])
