"""Shared figure style: theory drawn beside measurement, saved atomically as PNG and PDF.

Every divjax figure uses the same visual grammar, so a reader sees at a glance what is predicted and
what is measured:

* theory — black or coloured *dashed* lines, no markers (:func:`plot_theory`);
* measurement — markers joined by thin solid lines, with optional error bars
  (:func:`plot_measurement`);
* a text box in the corner stating the theory-vs-measurement gap (:func:`annotate_gap`).

Matplotlib is imported lazily with the non-interactive ``Agg`` backend unless a backend is already
chosen (so notebooks keep their inline backend).
"""

from __future__ import annotations

import os
import pathlib
import tempfile
from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:  # matplotlib is imported lazily at run time
  import numpy as np
  from matplotlib.axes import Axes
  from matplotlib.figure import Figure

__all__ = [
    "COLORS",
    "new_figure",
    "plot_theory",
    "plot_measurement",
    "annotate_gap",
    "save_figure",
]

#: A colour-blind-safe cycle (Okabe & Ito, 2008).
COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")


def _pyplot():
  import matplotlib
  if "matplotlib.pyplot" not in __import__("sys").modules and not os.environ.get("MPLBACKEND"):
    matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  return plt


def new_figure(nrows: int = 1, ncols: int = 1, *, width: float = 4.2, height: float = 3.2,
               **kwargs: Any) -> "tuple[Figure, np.ndarray]":
  """A figure with a grid of axes, sized per panel, in the house style.

  Returns:
    ``(fig, axes)`` with ``axes`` always a 2-D NumPy array of shape ``[nrows, ncols]``.
  """
  plt = _pyplot()
  fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False,
                           constrained_layout=True, **kwargs)
  for ax in axes.flat:
    ax.grid(True, alpha=0.25, linewidth=0.6)
    ax.spines[["top", "right"]].set_visible(False)
  return fig, axes


def plot_theory(ax: "Axes", x: Sequence[float], y: Sequence[float], *, label: str = "theory",
                color: str = "black", **kwargs: Any) -> list:
  """Draws a theory curve: dashed, no markers."""
  kwargs.setdefault("linewidth", 1.6)
  return ax.plot(x, y, linestyle="--", color=color, label=label, zorder=3, **kwargs)


def plot_measurement(ax: "Axes", x: Sequence[float], y: Sequence[float], *,
                     yerr: Sequence[float] | None = None, label: str | None = None,
                     color: str | None = None, marker: str = "o", filled: bool = True,
                     **kwargs: Any) -> Any:
  """Draws measured points: markers on thin solid lines, error bars when ``yerr`` is given."""
  kwargs.setdefault("linewidth", 1.0)
  kwargs.setdefault("markersize", 5)
  face = color if filled else "white"
  return ax.errorbar(x, y, yerr=yerr, label=label, color=color, marker=marker,
                     markerfacecolor=face, capsize=2 if yerr is not None else 0, zorder=4, **kwargs)


def annotate_gap(ax: "Axes", text: str, *, loc: str = "upper left") -> None:
  """Puts a small boxed note (typically the theory-vs-measurement gap) in a corner of ``ax``."""
  corners = {
      "upper left": (0.03, 0.97, "left", "top"),
      "upper right": (0.97, 0.97, "right", "top"),
      "lower left": (0.03, 0.03, "left", "bottom"),
      "lower right": (0.97, 0.03, "right", "bottom"),
  }
  x, y, ha, va = corners[loc]
  ax.text(x, y, text, transform=ax.transAxes, ha=ha, va=va, fontsize=8,
          bbox=dict(boxstyle="round,pad=0.3", facecolor="white", edgecolor="0.7", alpha=0.9))


def save_figure(fig: "Figure", stem: str | os.PathLike, *, dpi: int = 150,
                formats: Sequence[str] = ("png", "pdf")) -> list[pathlib.Path]:
  """Saves ``fig`` as ``stem.png`` and ``stem.pdf``, each written to a temp file then renamed.

  An interrupted save never leaves a truncated figure behind. The figure is closed afterwards.

  Returns:
    The written paths.
  """
  plt = _pyplot()
  stem = pathlib.Path(stem)
  stem.parent.mkdir(parents=True, exist_ok=True)
  paths = []
  try:
    for fmt in formats:
      final = stem.with_suffix(f".{fmt}")
      fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=f".tmp.{fmt}", dir=final.parent)
      os.close(fd)
      os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; give figures the usual mode
      try:
        fig.savefig(tmp, format=fmt, dpi=dpi, metadata=_metadata(fmt))
        os.replace(tmp, final)
      finally:
        if os.path.exists(tmp):
          os.unlink(tmp)
      paths.append(final)
  finally:
    plt.close(fig)
  return paths


def _umask() -> int:
  mask = os.umask(0)
  os.umask(mask)
  return mask


def _metadata(fmt: str) -> dict[str, Any]:
  # Reproducible files: no creation date in PDFs, a fixed software tag in PNGs.
  if fmt == "pdf":
    return {"Creator": "divjax", "Producer": "divjax", "CreationDate": None}
  if fmt == "png":
    return {"Software": "divjax"}
  return {}
