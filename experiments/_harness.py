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
  devices = np.asarray(jax.devices())
  return jax.sharding.Mesh(devices, ("sweep",))


def shard_sweep_args(*args: Any) -> tuple[tuple[Any, ...], int]:
  """Pads the leading (sweep) axis of every leaf to a multiple of the device count and shards it.

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
    return jax.device_put(x, jax.sharding.NamedSharding(mesh, spec))

  return jax.tree_util.tree_map(pad_and_put, args), n


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


def sweep(fn: Callable[..., Any], *args: Any, shared: tuple[Any, ...] = (),
          timer: Timer | None = None) -> Any:
  """Evaluates ``vmap(fn)`` over the leading axis of ``args``, sharded over every device.

  A 1-D mesh named ``"sweep"`` spans ``jax.devices()``; the sweep axis is padded to a multiple of the
  device count. One device, eight, or many hosts (after ``jax.distributed.initialize()``) run the same
  code. Compilation and execution are timed separately into ``timer``; the compiled program is cached
  per ``(fn, argument shapes)``, so calling ``sweep`` again with the same ``fn`` object and new values
  (including new ``shared`` values) does not recompile.

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
  shared = jax.tree_util.tree_map(jax.numpy.asarray, tuple(shared))
  key = (fn, _signature(shared), _signature(sharded))
  compiled = _COMPILED.get(key)
  if compiled is None:
    with timer.compiling():
      compiled = _vmapped(fn).lower(shared, sharded).compile()
    _COMPILED[key] = compiled
    while len(_COMPILED) > _COMPILED_MAX:
      _COMPILED.popitem(last=False)
  with timer.running(), _watchdog(_sweep_timeout(), f"sweep of {getattr(fn, '__name__', fn)!s}"):
    out = jax.block_until_ready(compiled(shared, sharded))
  if jax.process_count() > 1:  # bring every host's shard to every host
    from jax.experimental import multihost_utils
    out = multihost_utils.process_allgather(out, tiled=True)
  return jax.tree_util.tree_map(lambda x: x[:n], out)


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


def run_experiment(name: str,
                   *,
                   scale: str = "quick",
                   seed: int = 0,
                   out: str | os.PathLike = "results",
                   force: bool = False,
                   figures: str | os.PathLike | None = None,
                   config: Any | None = None) -> RunRecord:
  """Runs one experiment and writes its results atomically; never raises for the experiment's errors.

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
    writable_folder(out)
    with _run_lock(out, name):
      return _run_locked(module, name, config, chash, scale_label=scale_label, seed=seed, out=out,
                         force=force, figures=figures, t0=t0)
  except Exception as err:  # one failing experiment must not stop the others
    tb = io.StringIO()
    traceback.print_exc(file=tb)
    sys.stderr.write(tb.getvalue())
    return RunRecord(name, "error", "-", time.perf_counter() - t0, str(final),
                     f"{type(err).__name__}: {err}")


def _run_locked(module, name: str, config: Any, chash: str, *, scale_label: str, seed: int,
                out: pathlib.Path, force: bool, figures: str | os.PathLike | None,
                t0: float) -> RunRecord:
  """The body of :func:`run_experiment`, under the experiment's lock; may raise."""
  final = out / name
  existing = final / "results.json"
  if not force and existing.exists():
    try:
      stored = json.loads(existing.read_text())
    except (OSError, json.JSONDecodeError):
      stored = {}
    meta = stored.get("metadata", {})
    if meta.get("config_hash") == chash:
      if figures is not None and (final / "figure.png").exists():
        _copy_figure(final / "figure.png", pathlib.Path(figures), name)
      # A cached failure is still a failure.
      status = "cached" if meta.get("status") == "ok" else f"{meta.get('status')} (cached)"
      return RunRecord(name, status, _format_gap(stored.get("gap")), time.perf_counter() - t0,
                       str(final))
  _clean_stale(out, name)
  started = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
  t_run = time.perf_counter()
  results = module.run(config, seed=seed)
  wall = time.perf_counter() - t_run
  status = _status(results)
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
