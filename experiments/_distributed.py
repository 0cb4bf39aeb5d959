"""Several processes on JAX's own runtime: ``jax.distributed.initialize`` and a local launcher.

``python -m experiments run NAME --coordinator HOST:PORT --num-processes N --process-id I`` is one
process of a multi-process run (a multi-GPU host with one process per GPU, a SLURM job, a TPU pod);
``--distributed`` lets JAX detect the three values (SLURM, Cloud TPU, Open MPI). Every process calls
:func:`initialize` before any other JAX use; :func:`experiments._harness.sweep` then shards each sweep
over the devices of every process and gathers the result, and process 0 alone writes it.

``python -m experiments run NAME --processes N`` is the local launcher (:func:`launch_local`): it
starts N such processes on this host, talking over the loopback interface only (coordinator and
CPU collectives on 127.0.0.1, a free port chosen at run time), bounded by ``--timeout``. On CPU the
cross-process collectives are gloo's (``jax_cpu_collectives_implementation="gloo"``, JAX's default).
See docs/scaling.md.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import IO, Sequence

__all__ = ["initialize", "free_loopback_port", "launch_local", "LOOPBACK"]

LOOPBACK = "127.0.0.1"

#: Seconds a process waits for the others to reach the coordinator (``initialization_timeout``).
INIT_TIMEOUT_S = 120


def _is_loopback(host: str) -> bool:
  return host in ("localhost", "::1", "[::1]") or host.startswith("127.")


def _use_loopback_gloo() -> bool:
  """Makes the CPU backend's gloo collectives listen on 127.0.0.1 instead of the host's name.

  JAX creates gloo with the address ``gethostname()`` resolves to; a local run must not open ports
  on other interfaces. JAX has no public switch for gloo's address, so this registers a CPU backend
  factory through ``jax._src.xla_bridge`` (the same call JAX makes, plus ``hostname``). Returns False
  (and JAX's default stays) where that internal API differs.
  """
  try:
    from jax._src import distributed, xla_bridge
    from jax._src.lib import _jax

    def make_client():
      collectives = _jax.make_gloo_tcp_collectives(
          distributed_client=distributed.global_state.client, hostname=LOOPBACK)
      return xla_bridge.make_cpu_client(collectives=collectives)

    xla_bridge.register_backend_factory("cpu", make_client, priority=0, fail_quietly=False)
    return True
  except (ImportError, AttributeError, TypeError, RuntimeError):
    return False


def initialize(coordinator: str | None = None, num_processes: int | None = None,
               process_id: int | None = None, *, timeout_s: int = INIT_TIMEOUT_S) -> None:
  """``jax.distributed.initialize`` for this process; call it before any other JAX use.

  Args:
    coordinator: ``host:port`` of process 0's coordinator service; None lets JAX detect it (with
      ``num_processes`` and ``process_id``) on SLURM, Cloud TPU and Open MPI.
    num_processes: how many processes take part.
    process_id: this process's index, ``0 … num_processes − 1``; process 0 hosts the coordinator.
    timeout_s: how long to wait for every process to connect.

  A loopback ``coordinator`` (``127.0.0.1:PORT``, ``localhost:PORT``) keeps everything on this host:
  the coordinator binds 127.0.0.1 only and gloo's CPU collectives connect over 127.0.0.1.
  """
  import jax
  if coordinator is None:
    jax.distributed.initialize(initialization_timeout=timeout_s)
    return
  host, _, port = coordinator.rpartition(":")
  if not host or not port.isdigit():
    raise ValueError(f"--coordinator must be HOST:PORT, got {coordinator!r}.")
  if num_processes is None or process_id is None:
    raise ValueError("--coordinator needs --num-processes and --process-id.")
  kwargs = {}
  if _is_loopback(host):
    kwargs["coordinator_bind_address"] = f"{LOOPBACK}:{port}"
    if jax.config.jax_cpu_collectives_implementation in (None, "gloo"):
      _use_loopback_gloo()
  jax.distributed.initialize(coordinator, num_processes=num_processes, process_id=process_id,
                             initialization_timeout=timeout_s, **kwargs)


def free_loopback_port() -> int:
  """A TCP port on 127.0.0.1 that is free now (the OS's choice; another program could take it
  before the coordinator binds it, in which case the run fails to start and can be repeated)."""
  with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
    s.bind((LOOPBACK, 0))
    return int(s.getsockname()[1])


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
  """Linux: the child gets SIGKILL if the launcher dies, so no process outlives a killed launch."""
  try:
    import ctypes
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
  except (OSError, AttributeError):
    pass


def _pump(stream: IO[str], sink: IO[str], prefix: str) -> None:
  for line in stream:
    sink.write(prefix + line)
    sink.flush()


def launch_local(child_args: Sequence[str], num_processes: int, *, timeout_s: float | None = None,
                 env: dict[str, str] | None = None) -> int:
  """Runs ``python -m experiments run <child_args>`` as ``num_processes`` processes on this host.

  Each process gets ``--coordinator 127.0.0.1:PORT --num-processes N --process-id I``. Process 0's
  standard output is this process's; everything else goes to standard error prefixed with
  ``[process I]``. If a process fails, or ``timeout_s`` passes, every process is stopped.

  Returns:
    0 if every process exited with 0; else the first non-zero exit status (124 on a timeout).
  """
  if num_processes < 1:
    raise ValueError(f"--processes must be >= 1, got {num_processes}.")
  port = free_loopback_port()
  env = dict(os.environ if env is None else env)
  procs: list[subprocess.Popen] = []
  pumps: list[threading.Thread] = []
  for i in range(num_processes):
    cmd = [sys.executable, "-m", "experiments", "run", *child_args,
           "--coordinator", f"{LOOPBACK}:{port}", "--num-processes", str(num_processes),
           "--process-id", str(i)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None)
    procs.append(proc)
    prefix = f"[process {i}] "
    pumps.append(threading.Thread(target=_pump, args=(proc.stdout, sys.stdout if i == 0 else sys.stderr,
                                                       "" if i == 0 else prefix), daemon=True))
    pumps.append(threading.Thread(target=_pump, args=(proc.stderr, sys.stderr, prefix), daemon=True))
  for t in pumps:
    t.start()
  deadline = None if not timeout_s else time.monotonic() + timeout_s
  status = 0
  try:
    while any(p.poll() is None for p in procs):
      failed = [p.returncode for p in procs if p.returncode not in (None, 0)]
      if failed:
        status = failed[0]
        sys.stderr.write(f"experiments: a process exited with status {status}; stopping the others.\n")
        break
      if deadline is not None and time.monotonic() > deadline:
        status = 124
        sys.stderr.write(f"experiments: --timeout {timeout_s:g} s reached; stopping every process.\n")
        break
      time.sleep(0.1)
  finally:
    for p in procs:
      if p.poll() is None:
        p.terminate()
    for p in procs:
      try:
        p.wait(timeout=10)
      except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    for t in pumps:
      t.join(timeout=5)
  if status == 0:
    status = next((p.returncode for p in procs if p.returncode), 0)
  return status
