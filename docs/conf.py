"""Sphinx configuration for the divjax documentation.

Build (offline, warnings are errors):

    python -m sphinx -W --keep-going -b html docs docs/_build/html

Environment:

* ``DIVJAX_MATHJAX_PATH`` — where pages load MathJax from. Unset: Sphinx's default CDN URL. A URL
  (``https://…``) or a path under ``_static`` is used as given; the path of a local MathJax bundle
  file (e.g. ``node_modules/mathjax/es5/tex-mml-chtml.js``) has its folder copied into the build
  output as ``_static/mathjax/`` and the pages load it from there (for offline viewing).
"""

from __future__ import annotations

import importlib
import os
import pathlib
import shutil
import sys
import types

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
# The docs import the library only to read it: no accelerator, no GUI.
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("MPLBACKEND", "Agg")

import divjax  # noqa: E402

# -- Project ----------------------------------------------------------------------------------------

project = "divjax"
author = "The divjax developers"
copyright = "2026, The divjax developers"  # noqa: A001
version = release = divjax.__version__

# -- General ----------------------------------------------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "myst_parser",
    "sphinx_copybutton",
]
# No intersphinx: the build must not need the network.

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
templates_path: list[str] = []
suppress_warnings = [
    # docs/theory/index.md collects the theory pages with a glob; it may match none yet.
    "toc.empty_glob",
]
pygments_style = "friendly"
pygments_dark_style = "monokai"

# -- MyST -------------------------------------------------------------------------------------------

myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_dmath_double_inline = True
myst_heading_anchors = 3

# -- autodoc / napoleon -----------------------------------------------------------------------------

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_typehints_format = "short"
autodoc_preserve_defaults = True
autodoc_class_signature = "separated"
autodoc_default_options = {"show-inheritance": False}
python_maximum_signature_line_length = 88
add_module_names = False

napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
napoleon_use_ivar = False
napoleon_attr_annotations = True

# -- HTML -------------------------------------------------------------------------------------------

html_theme = "furo"
html_title = f"divjax {release}"
html_static_path = ["_static"]
html_css_files = ["divjax.css"]
html_show_sourcelink = False
html_theme_options = {
    "source_repository": "https://github.com/divjax/divjax",
    "source_branch": "main",
    "source_directory": "docs/",
}

copybutton_prompt_text = r">>> |\.\.\. |\$ "
copybutton_prompt_is_regexp = True

# MathJax: the CDN default for readers, a local copy on request (see the module docstring).
_MATHJAX_DIR: pathlib.Path | None = None
_mathjax_override = os.environ.get("DIVJAX_MATHJAX_PATH", "").strip()
if _mathjax_override:
  _candidate = pathlib.Path(_mathjax_override).expanduser()
  if "://" not in _mathjax_override and _candidate.is_file():
    _MATHJAX_DIR = _candidate.resolve().parent
    mathjax_path = f"mathjax/{_candidate.name}"
  else:
    mathjax_path = _mathjax_override

# -- The public API, and a check that every public name is documented -------------------------------

#: Every module whose ``__all__`` the API reference must cover.
PUBLIC_MODULES = [
    "divjax",
    "divjax.divergences",
    "divjax.divergences.generators",
    "divjax.divergences.discrete",
    "divjax.divergences.gaussian",
    "divjax.divergences.estimators",
    "divjax.expfam",
    "divjax.kde",
    "divjax.kde.theory",
    "divjax.games",
    "divjax.games.nash_mp",
    "divjax.games.egpo",
    "divjax.games.mmd",
    "divjax.games.nash_md",
    "divjax.games.approximate",
    "divjax.alignment",
    "divjax.ib",
    "divjax.ib.layerwise",
    "divjax.ot",
    "divjax.ot.sinkhorn",
    "divjax.ot.distillation",
    "divjax.plotting",
    "divjax.checks",
]


def _skip_namedtuple_fields(app, what, name, obj, skip, options):
  """NamedTuple fields are documented by the class's ``Attributes:`` section, not as members."""
  doc = getattr(obj, "__doc__", None) or ""
  if isinstance(obj, property) and doc.startswith("Alias for field number"):
    return True
  if what == "class" and isinstance(getattr(obj, "__doc__", None), str) and doc.startswith(
      "Alias for field number"):
    return True
  return None


#: Packages whose submodules' names are documented under the package that re-exports them.
_REEXPORTING = ("divjax.divergences.", "divjax.ib.", "divjax.ot.")


def _check_api_coverage(app, env):
  """Warn (an error under -W) for every name in a public ``__all__`` that no page documents."""
  from sphinx.util import logging

  logger = logging.getLogger("divjax.api")
  py = env.get_domain("py")
  objects = {name: entry for name, entry in py.objects.items()}
  modules = set(py.modules)
  missing = []
  for modname in PUBLIC_MODULES:
    module = importlib.import_module(modname)
    for name in getattr(module, "__all__", ()):
      if name == "__version__":
        continue
      full = f"{modname}.{name}"
      value = getattr(module, name)
      if isinstance(value, types.ModuleType):
        if value.__name__ not in modules:
          missing.append(full)
        continue
      # Documented under this path, or under a public package above it that re-exports it.
      candidates = [full]
      parent = modname.rpartition(".")[0]
      while modname.startswith(_REEXPORTING) and parent not in ("", "divjax"):
        candidates.append(f"{parent}.{name}")
        parent = parent.rpartition(".")[0]
      if not any(c in objects for c in candidates):
        missing.append(full)
  for full in missing:
    logger.warning("public name %s is not documented in the API reference", full,
                   type="divjax", subtype="api")


def _copy_mathjax(app, exception):
  if exception is None and _MATHJAX_DIR is not None and app.builder.format == "html":
    shutil.copytree(_MATHJAX_DIR, pathlib.Path(app.outdir) / "_static" / "mathjax", dirs_exist_ok=True)


def setup(app):
  app.connect("autodoc-skip-member", _skip_namedtuple_fields)
  app.connect("env-check-consistency", _check_api_coverage)
  app.connect("build-finished", _copy_mathjax)
  return {"parallel_read_safe": True, "parallel_write_safe": True}
