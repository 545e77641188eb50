"""Sphinx configuration of the skmultihead documentation.

Build (from the repository root; ``-W`` turns warnings into errors)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

The build needs no network access: no intersphinx inventory is downloaded unless
``SKMH_DOCS_INTERSPHINX=online`` is set or an inventory file is present in
``docs/_inventories/`` (see below).
"""

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))

import skmultihead  # noqa: E402

# -- Project ------------------------------------------------------------------------

project = "skmultihead"
author = "The skmultihead developers"
copyright = "The skmultihead developers, BSD-3-Clause"
release = skmultihead.__version__
version = ".".join(release.split(".")[:2])

# -- General ------------------------------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "skmh_docs",  # docs/_ext: benchmarks page, CLI help, offline external links
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "_templates", "_ext", "Thumbs.db", ".DS_Store"]
source_suffix = {".rst": "restructuredtext"}
root_doc = "index"
default_role = "literal"
pygments_style = "sphinx"
# Examples of the docstrings are doctests; show them as code.
trim_doctest_flags = True
# Page tables of contents list "fit()", not "MultiHeadMLPClassifier.fit()".
toc_object_entries_show_parents = "hide"

# -- autodoc / autosummary / numpydoc ---------------------------------------------

autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": True}
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True

# -- intersphinx (offline by default) ----------------------------------------------
# Inventories are fetched from the network only on request; a build machine
# without network access would otherwise warn (and fail under -W). Drop an
# ``objects.inv`` as ``docs/_inventories/<name>.inv`` to use it offline.
# References that no inventory resolves are linked by URL pattern by skmh_docs.

_INTERSPHINX_SITES = {
    "python": "https://docs.python.org/3",
    "numpy": "https://numpy.org/doc/stable",
    "scipy": "https://docs.scipy.org/doc/scipy",
    "sklearn": "https://scikit-learn.org/stable",
}
if os.environ.get("SKMH_DOCS_INTERSPHINX") == "online":
    intersphinx_mapping = {k: (url, None) for k, url in _INTERSPHINX_SITES.items()}
else:
    intersphinx_mapping = {
        name: (url, str(HERE / "_inventories" / f"{name}.inv"))
        for name, url in _INTERSPHINX_SITES.items()
        if (HERE / "_inventories" / f"{name}.inv").is_file()
    }
intersphinx_timeout = 5

# -- sphinx-gallery ------------------------------------------------------------------

sphinx_gallery_conf = {
    "examples_dirs": ["../examples"],
    "gallery_dirs": ["auto_examples"],
    "filename_pattern": r"/plot_",
    "doc_module": ("skmultihead",),
    "backreferences_dir": "generated/backreferences",
    "reference_url": {"skmultihead": None},
    "within_subsection_order": "skmh_docs.example_order",
    "download_all_examples": False,
    "remove_config_comments": True,
    "show_memory": False,
    # No sg_execution_times.rst in the source tree.
    "write_computation_times": False,
    "image_scrapers": ("matplotlib",),
    "matplotlib_animations": False,
    # A failing example fails the build.
    "only_warn_on_example_error": False,
}

# -- HTML ------------------------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
html_title = f"skmultihead {release}"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_show_sourcelink = False
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_sidebars = {
    page: [] for page in ("index", "install", "quick_start", "user_guide", "benchmarks")
}
html_context = {"default_mode": "light"}

# -- Local extension (docs/_ext/skmh_docs.py) -----------------------------------------

skmh_benchmarks_results = "../benchmarks/results"


def _skip_fitted_properties(app, what, name, obj, skip, options):
    # ``coefs_``/``intercepts_`` are properties (views of the parameter buffer);
    # they are documented in the class's Attributes section, not as members.
    if what == "class" and name.endswith("_") and isinstance(obj, property):
        return True
    return None


# Temporary workarounds for two docstring problems in the package (reported;
# both are no-ops once the docstrings are fixed):
# * skmultihead/_docstrings.py writes ``ndarray of shape (n_features_in_,)``,
#   which docutils reads as a link to a target "n_features_in" (an ERROR under
#   -W); scikit-learn writes (`n_features_in_`,).
# * skmultihead/metrics.py's multilabel_log_loss has a raw docstring (r"""), so
#   the backslash line continuations of its Parameters types stay in the text and
#   numpydoc splits ``Y_true`` and ``Y_prob`` into bogus parameters. Join them as
#   Python would in a normal string.
def _fix_known_docstring_problems(app, what, name, obj, options, lines):
    i = 0
    while i < len(lines) - 1:
        if lines[i].endswith(" \\") and lines[i].lstrip() and lines[i + 1].strip():
            lines[i] = lines[i][:-1] + lines.pop(i + 1).strip()
            continue
        i += 1
    for i, line in enumerate(lines):
        if "of shape (n_features_in_,)" in line:
            lines[i] = line.replace("(n_features_in_,)", "(`n_features_in_`,)")


def setup(app):
    app.connect("autodoc-skip-member", _skip_fitted_properties)
    # Before numpydoc (priority 500) parses the sections.
    app.connect("autodoc-process-docstring", _fix_known_docstring_problems, 400)
