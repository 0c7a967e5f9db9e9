"""Sphinx configuration of the rewardscope documentation site.

Build it with ``sphinx-build -b html docs /tmp/docs-html`` (``pip install -e '.[docs]'`` first).
"""

import shutil
from importlib import metadata
from pathlib import Path

project = "rewardscope"
author = "rewardscope developers"
copyright = "2026, rewardscope developers"
try:
    release = metadata.version("rewardscope")
except metadata.PackageNotFoundError:  # building from a tree without the package installed
    release = "0+unknown"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
templates_path = ["_templates"]
exclude_patterns = ["_build"]

# API pages: one per module, generated from the docstrings on every build (recursive over the
# package, so new modules and subpackages appear without editing these pages).
# Stale pages of modules since renamed or turned into packages would be orphans: start afresh.
shutil.rmtree(Path(__file__).parent / "api" / "generated", ignore_errors=True)
autosummary_generate = True
autosummary_imported_members = False
# cKDTree (scipy, imported by several modules) is not ours: its compiled signature breaks autodoc.
autodoc_default_options = {"members": True, "member-order": "bysource", "exclude-members": "cKDTree"}
autodoc_typehints = "none"
# numpydoc renders the Parameters/Returns sections; its own member tables would duplicate autodoc's.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

# Markdown pages (the user guide) are read by MyST; anchors for their headings.
myst_heading_anchors = 3

nitpicky = False
html_theme = "alabaster"
html_title = "rewardscope"
