"""Build-time helpers of the skmultihead documentation (a small Sphinx extension).

* ``benchmarks`` page: renders every file of ``benchmarks/results/`` (Markdown
  summaries, JSON results, PNG figures) into ``generated/benchmarks_results.inc``,
  which ``benchmarks.rst`` includes. With no results the page says so.
* User guide: the live ``python -m skmultihead compare --help`` text and the
  shared-vs-per-label rows of ``benchmarks/results/quality.json``, rendered into
  ``generated/*.inc``.
* Offline links: the build must work without network access, so no intersphinx
  inventory is fetched. References to scikit-learn, NumPy, SciPy and Dask objects
  that Sphinx cannot resolve are linked to those projects' documentation by URL
  pattern, after checking that the object can be imported; references to
  scikit-learn's glossary and user-guide labels (found in docstrings inherited
  from scikit-learn) go to scikit-learn's site.

The Markdown converter handles what benchmark summaries use (headings,
paragraphs, pipe tables, lists, fenced code, images, links, emphasis). Its output
is checked with docutils; a file it cannot convert cleanly is shown verbatim, so
an unusual results file never breaks the ``-W`` build.
"""

import html
import importlib
import inspect
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from docutils import nodes

HEADING_CHARS = ("-", "~", "^", '"')

# --------------------------------------------------------------------------------
# Markdown -> reStructuredText
# --------------------------------------------------------------------------------

_TABLE_SEP_RE = re.compile(r"^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$")
_HEADING_RE = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_LIST_RE = re.compile(r"^(\s*)([-*+]|\d+[.)])\s+(.*)$")
_FENCE_RE = re.compile(r"^\s*(```+|~~~+)\s*([\w+-]*)")
_IMAGE_LINE_RE = re.compile(r"^\s*!\[([^\]]*)\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)\s*$")
_INLINE_RE = re.compile(
    r"(?P<code>``(?P<c2>.+?)``|`(?P<c1>[^`]+)`)"
    r"|(?P<image>!\[(?P<ialt>[^\]]*)\]\((?P<isrc>[^)\s]+)[^)]*\))"
    r"|(?P<link>\[(?P<ltext>[^\]]+)\]\((?P<lurl>[^)\s]+)[^)]*\))"
    r"|(?P<autolink><(?P<aurl>https?://[^>\s]+)>)"
    r"|(?P<strong>\*\*(?P<s1>[^*]+?)\*\*|__(?P<s2>[^_]+?)__)"
    r"|(?P<em>(?<![\w*])\*(?P<e1>[^*\s][^*]*?)\*(?![\w*])"
    r"|(?<!\w)_(?P<e2>[^_\s][^_]*?)_(?!\w))"
)
# Characters after which (or before which) rst inline markup may start (end).
_OK_BEFORE = set(" \t\n-:/'\"<([{")
_OK_AFTER = set(" \t\n-.,:;!?\\/'\")]}>")


def _escape(text):
    """Plain text made inert for reStructuredText."""
    text = html.unescape(text)
    return re.sub(r"([\\*`|_])", r"\\\1", text)


def _inline(text):
    """Convert Markdown inline markup of one line or cell to reStructuredText."""
    pieces = []  # (kind, text): kind is "text" or "markup"
    pos = 0
    for m in _INLINE_RE.finditer(text):
        if m.start() > pos:
            pieces.append(("text", _escape(text[pos : m.start()])))
        if m.group("code"):
            code = m.group("c2") if m.group("c2") is not None else m.group("c1")
            code = code.strip()
            pieces.append(("markup", f"``{code}``" if code else ""))
        elif m.group("image") or m.group("link"):
            label = m.group("ialt") if m.group("image") else m.group("ltext")
            url = m.group("isrc") if m.group("image") else m.group("lurl")
            label = re.sub(r"[`<>]", "", label).strip() or url
            if re.match(r"^(https?|mailto):", url):
                pieces.append(("markup", f"`{label} <{url}>`__"))
            else:  # relative link: nothing to point at from the docs
                pieces.append(("text", _escape(label)))
        elif m.group("autolink"):
            pieces.append(("markup", m.group("aurl")))
        elif m.group("strong"):
            inner = m.group("s1") or m.group("s2")
            pieces.append(("markup", f"**{_escape(inner.strip())}**"))
        elif m.group("em"):
            inner = m.group("e1") or m.group("e2")
            pieces.append(("markup", f"*{_escape(inner.strip())}*"))
        pos = m.end()
    if pos < len(text):
        pieces.append(("text", _escape(text[pos:])))
    # Inline markup must touch whitespace or punctuation: else glue with "\ ".
    out = ""
    for i, (kind, piece) in enumerate(pieces):
        if kind == "markup" and piece:
            if out and out[-1] not in _OK_BEFORE:
                out += "\\ "
            out += piece
            nxt = pieces[i + 1][1] if i + 1 < len(pieces) else ""
            if nxt and nxt[0] not in _OK_AFTER:
                out += "\\ "
        else:
            out += piece
    return out


def _split_row(line):
    line = line.strip()
    if line.startswith("|"):
        line = line[1:]
    if line.endswith("|") and not line.endswith("\\|"):
        line = line[:-1]
    cells, current, in_code = [], "", False
    i = 0
    while i < len(line):
        ch = line[i]
        if ch == "\\" and i + 1 < len(line) and line[i + 1] == "|":
            current += "|"
            i += 2
            continue
        if ch == "`":
            in_code = not in_code
        if ch == "|" and not in_code:
            cells.append(current.strip())
            current = ""
        else:
            current += ch
        i += 1
    cells.append(current.strip())
    return cells


def _list_table(header, rows, *, indent="", numeric=False):
    """A ``list-table`` directive (cells are already reStructuredText).

    ``numeric=True`` right-aligns every column but the first (CSS class
    ``skmh-numeric`` of ``_static/custom.css``).
    """
    n = len(header)
    lines = [f"{indent}.. list-table::", f"{indent}   :header-rows: 1"]
    if numeric:
        lines.append(f"{indent}   :class: skmh-numeric")
    lines.append("")
    for row in [header, *rows]:
        row = (list(row) + [""] * n)[:n]
        for j, cell in enumerate(row):
            bullet = "* -" if j == 0 else "  -"
            lines.append(f"{indent}   {bullet} {cell}".rstrip())
    lines.append("")
    return lines


def _heading(title, char):
    title = title.strip() or "Untitled"
    return [title, char * max(len(title), 3), ""]


def md_to_rst(text, *, headings=HEADING_CHARS, title=None, resolve_image=None):
    """Convert a Markdown document to a reStructuredText fragment.

    Parameters
    ----------
    text : str
        Markdown source.
    headings : sequence of str
        Adornment characters for the heading levels of the fragment, outermost
        first. The first heading of the document, when the document starts
        with one, takes the first character; otherwise ``title`` does.
    title : str or None
        Section title used when the document does not start with a heading.
        None starts the fragment without a section of its own.
    resolve_image : callable or None
        ``resolve_image(src)`` returns the path to use in an ``image`` directive
        for a Markdown image source, or None to show the alt text instead.

    Returns
    -------
    rst : str
        The fragment, and the list of image sources it used, as ``(rst, images)``.
    """
    lines = [ln.rstrip("\n") for ln in text.replace("\r\n", "\n").split("\n")]
    text_no_comments = re.sub(r"<!--.*?-->", "", "\n".join(lines), flags=re.S)
    lines = text_no_comments.split("\n")
    heading_levels = sorted(
        {len(m.group(1)) for ln in lines if (m := _HEADING_RE.match(ln))}
    )
    out, images = [], []
    first_content = next((ln for ln in lines if ln.strip()), "")
    starts_with_heading = bool(_HEADING_RE.match(first_content))
    if not starts_with_heading and title is not None:
        out += _heading(_escape(title), headings[0])
        offset = 1
    elif starts_with_heading or title is not None:
        offset = 0
    else:
        offset = 0

    def level_char(n_hashes):
        rank = heading_levels.index(n_hashes) + offset
        # A first heading shallower than later ones stays the fragment's top level.
        return headings[min(rank, len(headings) - 1)]

    i = 0
    paragraph = []
    list_depths = []  # indentation of open list levels

    def flush_paragraph():
        if paragraph:
            indent = "   " * len(list_depths) if list_depths else ""
            out.extend(indent + _inline(p) for p in paragraph)
            out.append("")
            paragraph.clear()

    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        fence = _FENCE_RE.match(line)
        if fence:
            flush_paragraph()
            list_depths.clear()
            marker = fence.group(1)
            body = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith(marker):
                body.append(lines[i])
                i += 1
            i += 1  # closing fence
            out += ["::", ""] + ["   " + b if b.strip() else "" for b in body] + [""]
            continue
        m = _HEADING_RE.match(line)
        if m:
            flush_paragraph()
            list_depths.clear()
            out += _heading(_inline(m.group(2)), level_char(len(m.group(1))))
            i += 1
            continue
        if "|" in line and i + 1 < len(lines) and _TABLE_SEP_RE.match(lines[i + 1]):
            flush_paragraph()
            list_depths.clear()
            header = [_inline(c) for c in _split_row(line)]
            aligns = _split_row(lines[i + 1])
            numeric = any(a.strip().endswith(":") for a in aligns[1:])
            rows = []
            i += 2
            while i < len(lines) and "|" in lines[i] and lines[i].strip():
                rows.append([_inline(c) for c in _split_row(lines[i])])
                i += 1
            out += _list_table(header, rows, numeric=numeric)
            continue
        im = _IMAGE_LINE_RE.match(line)
        if im:
            flush_paragraph()
            list_depths.clear()
            alt, src = im.group(1), im.group(2)
            target = resolve_image(src) if resolve_image else None
            if target:
                images.append(src)
                out += [f".. image:: {target}", f"   :alt: {alt or src}", ""]
            elif alt:
                out += [_escape(alt), ""]
            i += 1
            continue
        if re.match(r"^\s*([-*_])(\s*\1){2,}\s*$", line):  # horizontal rule
            flush_paragraph()
            list_depths.clear()
            i += 1
            continue
        lm = _LIST_RE.match(line)
        if lm:
            flush_paragraph()
            indent = len(lm.group(1).expandtabs(4))
            while list_depths and indent < list_depths[-1]:
                list_depths.pop()
            if not list_depths or indent > list_depths[-1]:
                list_depths.append(indent)
                out.append("")
            depth = len(list_depths) - 1
            bullet = "-" if lm.group(2) in "-*+" else "#."
            pad = "   " * depth
            item = [f"{pad}{bullet} {_inline(lm.group(3))}"]
            i += 1
            # Continuation lines of the item (indented, not a new item).
            while (
                i < len(lines)
                and lines[i].strip()
                and not _LIST_RE.match(lines[i])
                and (lines[i].startswith(" ") or lines[i].startswith("\t"))
            ):
                item.append(
                    f"{pad}{' ' * (len(bullet) + 1)}{_inline(lines[i].strip())}"
                )
                i += 1
            out += item
            continue
        if not stripped:
            flush_paragraph()
            if list_depths and i + 1 < len(lines) and not _LIST_RE.match(lines[i + 1]):
                list_depths.clear()
            out.append("")
            i += 1
            continue
        if stripped.startswith(">"):
            flush_paragraph()
            list_depths.clear()
            quote = []
            while i < len(lines) and lines[i].strip().startswith(">"):
                quote.append(lines[i].strip()[1:].strip())
                i += 1
            out += [""] + ["   " + _inline(q) if q else "" for q in quote] + [""]
            continue
        if list_depths and not line.startswith(" "):
            list_depths.clear()
            out.append("")
        paragraph.append(stripped)
        i += 1
    flush_paragraph()
    rst = "\n".join(out)
    rst = re.sub(r"\n{3,}", "\n\n", rst).strip("\n") + "\n"
    return rst, images


def rst_problems(rst):
    """docutils messages (warning or worse) for a fragment; [] when clean."""
    from docutils.core import publish_doctree
    from docutils.utils import Reporter

    stream = io.StringIO()
    doctree = publish_doctree(
        rst,
        settings_overrides={
            "report_level": Reporter.SEVERE_LEVEL + 1,
            "halt_level": Reporter.SEVERE_LEVEL + 1,
            "warning_stream": stream,
            "doctitle_xform": False,
            "file_insertion_enabled": False,
            "raw_enabled": False,
        },
    )
    return [
        msg.astext()
        for msg in doctree.findall(nodes.system_message)
        if msg["level"] >= Reporter.WARNING_LEVEL
    ]


def _verbatim(title, text, char):
    body = ["::", ""] + ["   " + ln if ln.strip() else "" for ln in text.splitlines()]
    return "\n".join([*_heading(_escape(title), char), *body, ""])


def md_file_to_rst(path, *, headings=HEADING_CHARS, title=None, resolve_image=None):
    """Convert one Markdown file; fall back to a verbatim block if not clean."""
    text = Path(path).read_text(encoding="utf-8", errors="replace")
    rst, images = md_to_rst(
        text, headings=headings, title=title, resolve_image=resolve_image
    )
    if rst_problems(rst):
        return _verbatim(title or Path(path).name, text, headings[0]), []
    return rst, images


# --------------------------------------------------------------------------------
# JSON results -> tables
# --------------------------------------------------------------------------------

_MAX_ROWS = 60
_MAX_COLUMNS = 12


def _is_scalar(v):
    return v is None or isinstance(v, (str, int, float, bool))


def _fmt(v):
    if isinstance(v, bool) or v is None:
        return str(v)
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (list, tuple)) and all(_is_scalar(x) for x in v) and len(v) <= 8:
        return ", ".join(_fmt(x) for x in v)
    text = str(v)
    return text if len(text) <= 60 else text[:57] + "..."


def _flatten(record, prefix=""):
    flat = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and all(_is_scalar(v) for v in value.values()):
            flat.update(_flatten(value, prefix=f"{name}."))
        else:
            flat[name] = value
    return flat


def _record_tables(data, path=""):
    """``(name, records)`` for every list of dict records in ``data``."""
    found = []
    if isinstance(data, list) and data and all(isinstance(r, dict) for r in data):
        found.append((path, data))
    elif isinstance(data, dict):
        for key, value in data.items():
            found += _record_tables(value, f"{path}.{key}" if path else str(key))
    return found


def _records_table(records):
    flat = [_flatten(r) for r in records]
    columns = []
    for r in flat:
        for key, value in r.items():
            if key not in columns and (_is_scalar(value) or isinstance(value, list)):
                columns.append(key)
    columns = columns[:_MAX_COLUMNS]
    rows = [
        [_escape(_fmt(r[c])) if c in r else "" for c in columns]
        for r in flat[:_MAX_ROWS]
    ]
    numeric = any(isinstance(r.get(c), (int, float)) for r in flat for c in columns[1:])
    lines = _list_table([_escape(c) for c in columns], rows, numeric=numeric)
    if len(flat) > _MAX_ROWS:
        lines += [f"(first {_MAX_ROWS} of {len(flat)} rows)", ""]
    return lines


def json_to_rst(path, *, title, char="-", download=None):
    """Render one JSON results file as tables (or verbatim when not tabular)."""
    raw = Path(path).read_text(encoding="utf-8", errors="replace")
    out = _heading(_escape(title), char)
    try:
        data = json.loads(raw)
    except ValueError as exc:
        out += [f"This file is not valid JSON ({_escape(str(exc))}).", ""]
        data = None
    tables = _record_tables(data) if data is not None else []
    if isinstance(data, dict):
        info = [
            (key, value)
            for key, value in _flatten(
                {k: v for k, v in data.items() if not _record_tables(v)}
            ).items()
            if _is_scalar(value) or isinstance(value, list)
        ]
        if info:
            out += _list_table(
                ["Field", "Value"],
                [[_escape(k), _escape(_fmt(v))] for k, v in info[:_MAX_ROWS]],
            )
    for name, records in tables:
        if name:
            out += [f"**{_escape(name)}**", ""]
        out += _records_table(records)
    if data is not None and not tables and not isinstance(data, dict):
        shown = json.dumps(data, indent=2)
        lines = shown.splitlines()
        if len(lines) > 80:
            lines = lines[:80] + ["..."]
        out += ["::", ""] + ["   " + ln for ln in lines] + [""]
    if download:
        out += [f"Raw data: :download:`{Path(path).name} <{download}>`.", ""]
    rst = "\n".join(out)
    check = rst.replace(":download:", "")  # Sphinx role, unknown to docutils
    if rst_problems(check):
        return _verbatim(title, raw[:20000], char)
    return rst


# --------------------------------------------------------------------------------
# The benchmarks page
# --------------------------------------------------------------------------------

_NO_RESULTS = """\
.. note::

   No benchmark results are available in this build: ``benchmarks/results/``
   holds no ``.md``, ``.json`` or ``.png`` file. Run the benchmark scripts of
   ``benchmarks/`` (they write their results there) and rebuild the
   documentation to fill this page.
"""


def _title_from_stem(stem):
    return re.sub(r"[_-]+", " ", stem).strip().capitalize() or stem


def render_benchmarks(results_dir, out_dir, *, link_prefix="/generated/benchmarks"):
    """Write ``benchmarks_results.inc`` (and copy figures/data) into ``out_dir``.

    Returns the number of results files rendered.
    """
    results_dir = Path(results_dir)
    out_dir = Path(out_dir)
    media_dir = out_dir / "benchmarks"
    if media_dir.exists():
        shutil.rmtree(media_dir)
    files = (
        sorted(
            p
            for p in results_dir.iterdir()
            if p.is_file() and p.suffix.lower() in (".md", ".json", ".png")
        )
        if results_dir.is_dir()
        else []
    )
    if not files:
        _write_if_changed(out_dir / "benchmarks_results.inc", _NO_RESULTS)
        return 0
    media_dir.mkdir(parents=True, exist_ok=True)
    for p in files:
        shutil.copy2(p, media_dir / p.name)

    def resolve_image(src):
        name = Path(src).name
        if (results_dir / name).is_file() and "://" not in src:
            return f"{link_prefix}/{name}"
        return None

    by_stem = {}
    for p in files:
        by_stem.setdefault(p.stem, {})[p.suffix.lower()] = p
    parts = [
        f"Rendered when this documentation was built, from {len(files)} file(s) "
        "in ``benchmarks/results/``.",
        "",
    ]
    used_images = set()
    for stem, kinds in by_stem.items():
        if ".md" in kinds:
            rst, images = md_file_to_rst(
                kinds[".md"], title=_title_from_stem(stem), resolve_image=resolve_image
            )
            used_images.update(Path(s).name for s in images)
            parts.append(rst)
            if ".json" in kinds:
                name = kinds[".json"].name
                parts += [f"Raw data: :download:`{name} <{link_prefix}/{name}>`.", ""]
        elif ".json" in kinds:
            name = kinds[".json"].name
            parts.append(
                json_to_rst(
                    kinds[".json"],
                    title=_title_from_stem(stem),
                    download=f"{link_prefix}/{name}",
                )
            )
    figures = [p for p in files if p.suffix.lower() == ".png"]
    figures = [p for p in figures if p.name not in used_images]
    if figures:
        parts += _heading("Figures", "-")
        for p in figures:
            parts += [
                f".. figure:: {link_prefix}/{p.name}",
                f"   :alt: {_escape(_title_from_stem(p.stem))}",
                "   :width: 100%",
                "",
                f"   {_escape(_title_from_stem(p.stem))} (``{p.name}``)",
                "",
            ]
    _write_if_changed(out_dir / "benchmarks_results.inc", "\n".join(parts) + "\n")
    return len(files)


# --------------------------------------------------------------------------------
# Generated includes of the user guide
# --------------------------------------------------------------------------------


def render_compare_help(out_path, *, python=sys.executable, timeout=300):
    """Write the ``compare --help`` text as a literal block (or a note)."""
    env = dict(os.environ, COLUMNS="80", PYTHONWARNINGS="ignore")
    try:
        proc = subprocess.run(
            [python, "-m", "skmultihead", "compare", "--help"],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
        )
        ok = proc.returncode == 0 and proc.stdout.strip()
        text = proc.stdout
    except (OSError, subprocess.SubprocessError):
        ok, text = False, ""
    if ok:
        body = [".. code-block:: text", ""]
        body += ["   " + ln if ln.strip() else "" for ln in text.rstrip().splitlines()]
        content = "\n".join(body) + "\n"
    else:
        content = (
            ".. note::\n\n   The help text of ``python -m skmultihead compare`` could "
            "not be\n   generated in this build; run the command with ``--help``.\n"
        )
    _write_if_changed(out_path, content)
    return bool(ok)


_NO_QUALITY = """\
.. note::

   **Numbers pending.** No quality benchmark results
   (``benchmarks/results/quality.json``) were available when this page was
   built; see the :ref:`benchmarks` page once the benchmarks have been run.
"""


def render_quality_summary(json_path, out_path):
    """Shared vs per-label rows of the quality benchmark, for the user guide.

    Reads ``quality.json`` of ``benchmarks/bench_quality.py`` (``datasets ->
    name -> {info, results -> {multihead, br, ...}}``) and writes a table plus a
    sentence computed from it. Anything else gives a note pointing to the
    benchmarks page. Returns True when the table was written.
    """
    try:
        data = json.loads(Path(json_path).read_text(encoding="utf-8"))
        rows, wins, ratios = [], [0, 0, 0], []
        for name, entry in data["datasets"].items():
            res, info = entry["results"], entry.get("info", {})
            mh, br = res.get("multihead"), res.get("br")
            if mh is None:
                continue
            cells = [
                _escape(name),
                str(info.get("n_labels", "")),
                str(info.get("n_train", "")),
            ]
            for key in ("micro_f1", "macro_f1"):
                a = float(mh[key])
                b = float(br[key]) if br else None
                fa, fb = f"{a:.3f}", (f"{b:.3f}" if b is not None else "not run")
                if b is not None and round(a, 3) != round(b, 3):
                    fa, fb = (f"**{fa}**", fb) if a > b else (fa, f"**{fb}**")
                cells += [fa, fb]
            if br is not None:
                a, b = round(float(mh["micro_f1"]), 3), round(float(br["micro_f1"]), 3)
                wins[0 if a > b else (1 if b > a else 2)] += 1
                ratios.append(float(br["fit_time"]) / float(mh["fit_time"]))
            cells += [
                f"{float(mh['fit_time']):.2f}",
                f"{float(br['fit_time']):.2f}" if br else "not run",
            ]
            rows.append(cells)
        if not rows:
            raise ValueError("no dataset with both estimators")
        config = data.get("config", {})
        hidden = tuple(config.get("hidden", ())) or "?"
    except Exception:
        _write_if_changed(out_path, _NO_QUALITY)
        return False
    header = [
        "Dataset",
        "Labels",
        "Train samples",
        "micro-F1 shared",
        "micro-F1 per label",
        "macro-F1 shared",
        "macro-F1 per label",
        "fit (s) shared",
        "fit (s) per label",
    ]
    n_pairs = sum(wins)
    lines = [
        "Quality benchmark (``benchmarks/bench_quality.py``): each estimator fitted "
        f"once on a dataset's MULAN training split with "
        f"``hidden_layer_sizes={hidden}`` (for the per-label model, *per label*) "
        "and the default options, scored on its test split. Generated from "
        "``benchmarks/results/quality.json`` when this page was built; the full "
        "tables, with scikit-learn baselines and the tuned variants, are on the "
        ":ref:`benchmarks` page.",
        "",
        *_list_table(header, rows, numeric=True),
    ]
    if n_pairs:

        def count(n):
            return "none" if n == 0 else ("all" if n == n_pairs else str(n))

        tied = f", tied on {count(wins[2])}" if wins[2] else ""
        lines += [
            f"In this run, of the {n_pairs} datasets where both models ran, the "
            f"per-label model has the higher micro-F1 on {count(wins[1])} and the "
            f"shared model on {count(wins[0])}{tied}; the per-label model took "
            f"{min(ratios):.1f} to {max(ratios):.1f} times as long to fit (same "
            "width per label, so about ``n_labels`` times the parameters).",
            "",
        ]
    _write_if_changed(out_path, "\n".join(lines) + "\n")
    return True


def _write_if_changed(path, content):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text(encoding="utf-8") != content:
        path.write_text(content, encoding="utf-8")


# --------------------------------------------------------------------------------
# Offline links to the documentation of scikit-learn, NumPy, SciPy and Dask
# --------------------------------------------------------------------------------

_SKLEARN = "https://scikit-learn.org/stable"
_SITES = {
    "sklearn": (
        f"{_SKLEARN}/modules/generated/{{page}}.html",
        f"{_SKLEARN}/api/{{mod}}.html",
    ),
    "scipy": (
        "https://docs.scipy.org/doc/scipy/reference/generated/{page}.html",
        "https://docs.scipy.org/doc/scipy/reference/{sub}.html",
    ),
    "numpy": ("https://numpy.org/doc/stable/reference/generated/{page}.html", None),
    "dask": ("https://docs.dask.org/en/stable/generated/{page}.html", None),
}
# scikit-learn labels and glossary terms used by docstrings that our estimators
# inherit from scikit-learn (set_fit_request, score, ...).
_SKLEARN_LABELS = {
    "metadata_routing": f"{_SKLEARN}/metadata_routing.html",
    "accuracy_score": f"{_SKLEARN}/modules/model_evaluation.html#accuracy-score",
}


def _import_target(target):
    """``(module_path, attribute_chain, object)`` for a dotted name, or None."""
    parts = target.split(".")
    for cut in range(len(parts), 0, -1):
        mod_name = ".".join(parts[:cut])
        try:
            obj = importlib.import_module(mod_name)
        except Exception:
            continue
        rest = parts[cut:]
        try:
            for name in rest:
                obj = getattr(obj, name)
        except AttributeError:
            return None
        return mod_name, rest, obj
    return None


def external_url(target):
    """Documentation URL of an object of scikit-learn, NumPy, SciPy or Dask."""
    target = target.lstrip("~.")
    root = target.split(".")[0]
    if root == "np":
        target, root = "numpy" + target[2:], "numpy"
    if root not in _SITES:
        return None
    found = _import_target(target)
    if found is None:
        return None
    mod_name, rest, obj = found
    page_pattern, module_pattern = _SITES[root]
    if not rest:
        if module_pattern is None or mod_name == root:
            return None
        sub = mod_name.split(".", 1)[1]
        return module_pattern.format(mod=mod_name, sub=sub)
    if root == "numpy":
        first = getattr(importlib.import_module(mod_name), rest[0])
        is_function = inspect.isroutine(first) or type(first).__name__ == "ufunc"
        if not (is_function or first in _numpy_classes()):
            return None
    page = ".".join([mod_name, rest[0]])
    url = page_pattern.format(page=page)
    return url if len(rest) == 1 else f"{url}#{target}"


def _numpy_classes():
    import numpy as np

    return (np.ndarray, np.dtype)


def _missing_reference(app, env, node, contnode):
    domain, reftype = node.get("refdomain"), node.get("reftype")
    target = node.get("reftarget", "")
    url = None
    if domain == "py":
        url = external_url(target)
    elif domain == "std" and reftype == "term":
        slug = re.sub(r"[^a-z0-9]+", "-", target.lower()).strip("-")
        url = f"{_SKLEARN}/glossary.html#term-{slug}"
    elif domain == "std" and reftype == "ref" and target in _SKLEARN_LABELS:
        url = _SKLEARN_LABELS[target]
    if url is None:
        return None
    ref = nodes.reference("", "", internal=False, refuri=url, reftitle=target)
    ref.append(contnode)
    return ref


# --------------------------------------------------------------------------------
# Gallery order
# --------------------------------------------------------------------------------

EXAMPLE_ORDER = (
    "plot_shared_vs_per_label.py",
    "plot_threshold_tuning.py",
    "plot_missing_labels.py",
    "plot_grid_search_pipeline.py",
)


def example_order(filename):
    """Sort key of the gallery (``within_subsection_order``): reading order."""
    name = Path(filename).name
    rank = EXAMPLE_ORDER.index(name) if name in EXAMPLE_ORDER else len(EXAMPLE_ORDER)
    return (rank, name)


# --------------------------------------------------------------------------------
# Sphinx hooks
# --------------------------------------------------------------------------------


def _generate(app):
    from sphinx.util import logging

    logger = logging.getLogger(__name__)
    srcdir = Path(app.srcdir)
    out_dir = srcdir / "generated"
    results = (srcdir / app.config.skmh_benchmarks_results).resolve()
    n = render_benchmarks(results, out_dir)
    logger.info(f"[skmh_docs] benchmarks page: {n} results file(s) from {results}")
    if not render_compare_help(out_dir / "compare_help.inc"):
        logger.info("[skmh_docs] 'python -m skmultihead compare --help' failed")
    render_quality_summary(results / "quality.json", out_dir / "quality_summary.inc")


def setup(app):
    app.add_config_value("skmh_benchmarks_results", "../benchmarks/results", "env")
    app.connect("builder-inited", _generate)
    app.connect("missing-reference", _missing_reference)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
