"""Shared figure style: theory drawn beside measurement, saved atomically as PNG and PDF.

Every divjax figure uses the same visual grammar, so a reader sees at a glance what is predicted and
what is measured:

* theory — black or coloured *dashed* lines, no markers (:func:`plot_theory`);
* measurement — markers joined by thin solid lines, with optional error bars
  (:func:`plot_measurement`);
* a text box in the corner stating the theory-vs-measurement gap (:func:`annotate_gap`).

Matplotlib is imported lazily with the non-interactive ``Agg`` backend unless a backend is already
chosen (so notebooks keep their inline backend).

Examples:
  A theory curve, three measured points with error bars and the gap note, saved as PNG and PDF:

  >>> import pathlib, tempfile
  >>> from divjax import plotting
  >>> fig, axes = plotting.new_figure()
  >>> ax = axes[0, 0]
  >>> _ = plotting.plot_theory(ax, [1, 2, 3], [1, 4, 9], label="x²")
  >>> _ = plotting.plot_measurement(ax, [1, 2, 3], [1.1, 3.9, 9.2], yerr=[0.1, 0.2, 0.3],
  ...                               label="measured", color=plotting.COLORS[0])
  >>> plotting.annotate_gap(ax, "max gap 0.2")
  >>> with tempfile.TemporaryDirectory() as tmp:
  ...     print([p.name for p in plotting.save_figure(fig, pathlib.Path(tmp) / "squares")])
  ['squares.png', 'squares.pdf']
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

  Args:
    nrows: number of rows of panels.
    ncols: number of columns of panels.
    width: width of one panel in inches.
    height: height of one panel in inches.
    **kwargs: passed on to ``matplotlib.pyplot.subplots``.

  Returns:
    ``(fig, axes)`` with ``axes`` always a 2-D NumPy array of shape ``[nrows, ncols]``.

  Examples:
    Two panels side by side, 2 × 4.2 inches wide:

    >>> import matplotlib.pyplot as plt
    >>> from divjax import plotting
    >>> fig, axes = plotting.new_figure(1, 2)
    >>> print(axes.shape, fig.get_size_inches())
    (1, 2) [8.4 3.2]
    >>> plt.close(fig)
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
  """Draws a theory curve: dashed, no markers.

  Args:
    ax: the axes to draw on.
    x: abscissae.
    y: predicted values.
    label: legend label.
    color: line colour.
    **kwargs: passed on to ``Axes.plot`` (``linewidth`` defaults to 1.6).

  Returns:
    The list of ``Line2D`` objects that ``Axes.plot`` returns.

  Examples:
    >>> import matplotlib.pyplot as plt
    >>> from divjax import plotting
    >>> fig, axes = plotting.new_figure()
    >>> (line,) = plotting.plot_theory(axes[0, 0], [1, 2, 3], [1, 4, 9])
    >>> print(line.get_linestyle(), line.get_color())
    -- black
    >>> plt.close(fig)
  """
  kwargs.setdefault("linewidth", 1.6)
  return ax.plot(x, y, linestyle="--", color=color, label=label, zorder=3, **kwargs)


def plot_measurement(ax: "Axes", x: Sequence[float], y: Sequence[float], *,
                     yerr: Sequence[float] | None = None, label: str | None = None,
                     color: str | None = None, marker: str = "o", filled: bool = True,
                     **kwargs: Any) -> Any:
  """Draws measured points: markers on thin solid lines, with error bars when yerr is given.

  Args:
    ax: the axes to draw on.
    x: abscissae.
    y: measured values.
    yerr: optional error-bar half-widths.
    label: legend label.
    color: marker and line colour (Matplotlib's cycle when ``None``).
    marker: the marker style.
    filled: filled markers, or white faces when ``False``.
    **kwargs: passed on to ``Axes.errorbar`` (``linewidth`` defaults to 1.0, ``markersize`` to 5).

  Returns:
    The ``ErrorbarContainer`` that ``Axes.errorbar`` returns.

  Examples:
    >>> import matplotlib.pyplot as plt
    >>> from divjax import plotting
    >>> fig, axes = plotting.new_figure()
    >>> bars = plotting.plot_measurement(axes[0, 0], [1, 2, 3], [1.1, 3.9, 9.2], yerr=[0.1, 0.2, 0.3])
    >>> print(bars.lines[0].get_marker(), bars.lines[0].get_linestyle(), bars.has_yerr)
    o - True
    >>> plt.close(fig)
  """
  kwargs.setdefault("linewidth", 1.0)
  kwargs.setdefault("markersize", 5)
  face = color if filled else "white"
  return ax.errorbar(x, y, yerr=yerr, label=label, color=color, marker=marker,
                     markerfacecolor=face, capsize=2 if yerr is not None else 0, zorder=4, **kwargs)


def annotate_gap(ax: "Axes", text: str, *, loc: str = "upper left") -> None:
  """Puts a small boxed note (typically the theory-vs-measurement gap) in a corner of the axes.

  Args:
    ax: the axes to annotate.
    text: the note.
    loc: the corner, one of ``"upper left"``, ``"upper right"``, ``"lower left"``,
      ``"lower right"``.

  Raises:
    KeyError: for any other ``loc``.

  Examples:
    >>> import matplotlib.pyplot as plt
    >>> from divjax import plotting
    >>> fig, axes = plotting.new_figure()
    >>> plotting.annotate_gap(axes[0, 0], "gap 0.2", loc="lower right")
    >>> print(axes[0, 0].texts[0].get_text())
    gap 0.2
    >>> plt.close(fig)
  """
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
  """Saves a figure as stem.png and stem.pdf, each written to a temporary file and then renamed.

  An interrupted save never leaves a truncated figure behind. The figure is closed afterwards.
  Missing parent folders of ``stem`` are created.

  Args:
    fig: the figure.
    stem: the output path without suffix.
    dpi: resolution of the raster formats.
    formats: the file formats (suffixes) to write.

  Returns:
    The written paths, one per format.

  Examples:
    >>> import pathlib, tempfile
    >>> from divjax import plotting
    >>> fig, _ = plotting.new_figure()
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     print([p.name for p in plotting.save_figure(fig, pathlib.Path(tmp) / "demo")])
    ['demo.png', 'demo.pdf']
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
