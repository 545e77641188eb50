"""Reader for multi-label ARFF files (MULAN and MEKA conventions)."""

# Authors: The skmultihead developers
# SPDX-License-Identifier: BSD-3-Clause

from __future__ import annotations

import gzip
import os
import re
import warnings
import xml.parsers.expat
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.utils import Bunch

__all__ = ["load_arff"]

_NUMERIC_TYPES = frozenset({"numeric", "real", "integer"})
_POSITIVE_LABEL_VALUES = frozenset({"1", "yes", "true"})
_MEKA_C_RE = re.compile(r"(?<!\S)-C\s+(-?\d+)(?!\S)")
_SPLIT_SUFFIX_RE = re.compile(r"[-_](train|test)$", re.IGNORECASE)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r"}
_ESCAPE_RE = re.compile(r"\\(.)")
# Above this many (value group, distinct value) cells the sparse reader converts
# values one entry at a time instead of through a lookup table.
_MAX_TABLE_CELLS = 2_000_000


class _Attribute:
    """One ``@attribute`` declaration."""

    __slots__ = ("name", "kind", "values", "index", "lineno")

    def __init__(self, name, kind, values, lineno):
        self.name = name
        self.kind = kind  # "numeric", "nominal" or "string"
        self.values = values  # tuple of str for nominal attributes, else None
        self.index = (
            None if values is None else {v: float(i) for i, v in enumerate(values)}
        )
        self.lineno = lineno

    def is_identity_nominal(self):
        """True if ``float(value) == index`` for every declared value."""
        try:
            return all(float(v) == i for i, v in enumerate(self.values))
        except ValueError:
            return False

    def convert(self, token):
        """Return the float code of one raw token; raise ValueError if invalid."""
        token = _unquote(token)
        if token == "?":
            return np.nan
        if self.kind == "numeric":
            return float(token)
        if self.kind == "nominal":
            try:
                return self.index[token]
            except KeyError:
                raise ValueError(token) from None
        return 0.0  # string attributes are dropped later


class _Reader:
    """Parser state for one file; builds error messages with line numbers."""

    def __init__(self, path):
        self.path = path

    def error(self, lineno, message):
        where = f"{self.path}" if lineno is None else f"{self.path}, line {lineno}"
        return ValueError(f"{where}: {message}")


# ---------------------------------------------------------------------------
# Tokenising helpers
# ---------------------------------------------------------------------------


def _unescape(text):
    return _ESCAPE_RE.sub(lambda m: _ESCAPES.get(m[1], m[1]), text)


def _unquote(token):
    """Strip whitespace and one level of matching ``'`` or ``"`` quotes."""
    token = token.strip()
    if len(token) >= 2 and token[0] in "'\"" and token[-1] == token[0]:
        return _unescape(token[1:-1])
    return token


def _split_commas(text):
    """Split ``text`` on commas that are not inside quotes.

    Returns the raw pieces (quotes kept). Raises ValueError on an unterminated
    quote.
    """
    pieces = []
    start = 0
    quote = None
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if quote is not None:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = None
        elif c == "'" or c == '"':
            quote = c
        elif c == ",":
            pieces.append(text[start:i])
            start = i + 1
        i += 1
    if quote is not None:
        raise ValueError("unterminated quoted value")
    pieces.append(text[start:])
    return pieces


def _split_name(rest):
    """Split ``name type...`` where the name may be quoted.

    Returns ``(name, remainder)`` or raises ValueError.
    """
    if not rest:
        raise ValueError("missing attribute name")
    if rest[0] in "'\"":
        quote = rest[0]
        i = 1
        while i < len(rest):
            if rest[i] == "\\":
                i += 2
                continue
            if rest[i] == quote:
                return _unescape(rest[1:i]), rest[i + 1 :].strip()
            i += 1
        raise ValueError("unterminated quoted name")
    m = re.match(r"[^\s{]+", rest)
    if m is None:
        raise ValueError("missing attribute name")
    return m[0], rest[m.end() :].strip()


# ---------------------------------------------------------------------------
# Header
# ---------------------------------------------------------------------------


def _parse_header(reader, lines):
    """Parse everything up to ``@data``.

    Returns ``(relation, relation_lineno, attributes, data_start)`` where
    ``data_start`` is the index in ``lines`` of the first line after ``@data``.
    """
    relation = ""
    relation_lineno = None
    attributes = []
    seen = {}
    for i, raw in enumerate(lines):
        lineno = i + 1
        line = raw.strip()
        if not line or line[0] == "%":
            continue
        keyword = line.split(None, 1)[0].lower()
        if keyword == "@relation":
            rest = line[len(keyword) :].strip()
            relation = rest
            if rest[:1] in ("'", '"'):
                try:
                    relation, _ = _split_name(rest)
                except ValueError as exc:
                    raise reader.error(lineno, f"bad @relation line: {exc}") from None
            relation_lineno = lineno
        elif keyword.startswith("@attribute"):
            rest = line[len("@attribute") :]
            if rest and not rest[0].isspace() and rest[0] not in "'\"":
                raise reader.error(lineno, f"unexpected keyword {keyword!r}")
            try:
                name, type_text = _split_name(rest.strip())
            except ValueError as exc:
                raise reader.error(lineno, str(exc)) from None
            attr = _parse_type(reader, name, type_text, lineno)
            if name in seen:
                raise reader.error(
                    lineno,
                    f"duplicate attribute name {name!r} "
                    f"(first declared on line {seen[name]})",
                )
            seen[name] = lineno
            attributes.append(attr)
        elif keyword == "@data":
            if line[len(keyword) :].strip():
                raise reader.error(lineno, "unexpected text after @data")
            if not attributes:
                raise reader.error(lineno, "no @attribute declarations before @data")
            return relation, relation_lineno, attributes, i + 1
        elif keyword == "@end":
            raise reader.error(lineno, "relational attributes (@end) are not supported")
        else:
            raise reader.error(lineno, f"unexpected line in header: {line[:40]!r}")
    raise reader.error(len(lines), "no @data section found")


def _parse_type(reader, name, type_text, lineno):
    if not type_text:
        raise reader.error(lineno, f"attribute {name!r} has no type")
    if type_text[0] == "{":
        if type_text[-1] != "}":
            raise reader.error(
                lineno, f"nominal attribute {name!r}: missing closing '}}'"
            )
        inner = type_text[1:-1]
        try:
            values = tuple(_unquote(p) for p in _split_commas(inner))
        except ValueError as exc:
            raise reader.error(lineno, f"attribute {name!r}: {exc}") from None
        if not inner.strip() or any(v == "" for v in values):
            raise reader.error(lineno, f"nominal attribute {name!r} has an empty value")
        if len(set(values)) != len(values):
            raise reader.error(
                lineno, f"nominal attribute {name!r} declares a value twice"
            )
        return _Attribute(name, "nominal", values, lineno)
    kind = type_text.split(None, 1)[0].lower()
    if kind in _NUMERIC_TYPES:
        return _Attribute(name, "numeric", None, lineno)
    if kind == "string":
        return _Attribute(name, "string", None, lineno)
    if kind in ("date", "relational"):
        raise reader.error(
            lineno, f"attribute {name!r}: {kind} attributes are not supported"
        )
    raise reader.error(
        lineno, f"attribute {name!r}: unknown attribute type {type_text[:30]!r}"
    )


# ---------------------------------------------------------------------------
# Labels
# ---------------------------------------------------------------------------


def _read_xml_labels(xml_path):
    """Return ``[(label_name, lineno), ...]`` in document order."""
    xml_path = Path(xml_path)
    if not xml_path.is_file():
        raise FileNotFoundError(f"label XML file not found: {xml_path}")
    found = []
    parser = xml.parsers.expat.ParserCreate()

    def start(tag, attrs):
        if tag.rsplit(":", 1)[-1] == "label":
            if "name" not in attrs:
                raise ValueError(
                    f"{xml_path}, line {parser.CurrentLineNumber}: "
                    "<label> element without a name attribute"
                )
            found.append((attrs["name"], parser.CurrentLineNumber))

    parser.StartElementHandler = start
    try:
        parser.Parse(xml_path.read_bytes(), True)
    except xml.parsers.expat.ExpatError as exc:
        raise ValueError(
            f"{xml_path}, line {exc.lineno}: malformed XML: "
            f"{xml.parsers.expat.ErrorString(exc.code)}"
        ) from None
    if not found:
        raise ValueError(f"{xml_path}: no <label> elements found")
    seen = {}
    for name, lineno in found:
        if name in seen:
            raise ValueError(
                f"{xml_path}, line {lineno}: label {name!r} listed twice "
                f"(first on line {seen[name]})"
            )
        seen[name] = lineno
    return found


def _find_sibling_xml(path):
    """MULAN convention: ``name.xml`` beside ``name[-train|-test].arff[.gz]``."""
    name = path.name
    if name.lower().endswith(".gz"):
        name = name[:-3]
    if name.lower().endswith(".arff"):
        name = name[:-5]
    candidates = [name]
    stripped = _SPLIT_SUFFIX_RE.sub("", name)
    if stripped != name and stripped:
        candidates.append(stripped)
    for stem in candidates:
        xml_path = path.with_name(stem + ".xml")
        if xml_path.is_file():
            return xml_path
    return None


def _resolve_labels(reader, path, attributes, relation, relation_lineno, labels, xml):
    """Return ``(label_attribute_indices, source_description)``.

    The indices are in output (``target``) order.
    """
    n_attributes = len(attributes)
    position = {a.name: i for i, a in enumerate(attributes)}

    if labels is not None and xml is not None:
        raise ValueError("pass at most one of 'labels' and 'xml', not both")

    if labels is not None:
        if isinstance(labels, bool) or not isinstance(
            labels, (int, np.integer, str, list, tuple, np.ndarray)
        ):
            raise TypeError(
                "labels must be an int, a list of label names or None; "
                f"got {type(labels).__name__}"
            )
        if isinstance(labels, (int, np.integer)):
            return _meka_indices(reader, int(labels), n_attributes, None), (
                f"labels={int(labels)}"
            )
        names = [labels] if isinstance(labels, str) else list(labels)
        if not names:
            raise ValueError("labels is an empty list")
        if len(set(names)) != len(names):
            raise ValueError(f"labels contains duplicate names: {names}")
        indices = []
        for k, name in enumerate(names):
            if name not in position:
                raise ValueError(
                    f"{path}: label {name!r} (labels[{k}]) is not an attribute "
                    f"of this file"
                )
            indices.append(position[name])
        return indices, "the labels argument"

    if xml is None:
        xml = _find_sibling_xml(path)
    if xml is not None:
        found = _read_xml_labels(xml)
        indices = []
        for name, lineno in found:
            if name not in position:
                raise ValueError(
                    f"{xml}, line {lineno}: label {name!r} is not an attribute "
                    f"of {path}"
                )
            indices.append(position[name])
        return indices, f"{Path(xml).name}"

    m = _MEKA_C_RE.search(relation or "")
    if m is None:
        raise reader.error(
            relation_lineno,
            "no labels found: no label XML file beside the ARFF file and no "
            "'-C N' in the @relation name; pass labels=N (MEKA convention) "
            "or labels=[names], or xml=path",
        )
    return _meka_indices(reader, int(m[1]), n_attributes, relation_lineno), (
        f"'-C {m[1]}' in @relation"
    )


def _meka_indices(reader, n, n_attributes, lineno):
    if n == 0 or abs(n) > n_attributes:
        raise reader.error(
            lineno,
            f"label count {n} is invalid for a file with {n_attributes} "
            "attributes (MEKA convention: N > 0 = first N attributes, "
            "N < 0 = last |N| attributes)",
        )
    return list(range(n)) if n > 0 else list(range(n_attributes + n, n_attributes))


# ---------------------------------------------------------------------------
# Data section
# ---------------------------------------------------------------------------


def _data_rows(lines, start):
    rows = []
    linenos = []
    for i in range(start, len(lines)):
        s = lines[i].strip()
        if s and s[0] != "%":
            rows.append(s)
            linenos.append(i + 1)
    return rows, linenos


def _split_dense_row(reader, row, lineno, quoted):
    if not quoted:
        return row.split(",")
    try:
        return _split_commas(row)
    except ValueError as exc:
        raise reader.error(lineno, str(exc)) from None


def _check_length(reader, tokens, n_attributes, lineno):
    if len(tokens) != n_attributes:
        kind = "truncated row" if len(tokens) < n_attributes else "too many values"
        hint = ""
        if tokens and tokens[-1].strip().startswith("{"):
            hint = " (instance weights are not supported)"
        raise reader.error(
            lineno,
            f"{kind}: expected {n_attributes} comma-separated values, "
            f"found {len(tokens)}{hint}",
        )


def _bad_value(reader, attr, token, lineno):
    extra = ""
    if attr.kind == "nominal":
        shown = ",".join(attr.values[:6]) + (",..." if len(attr.values) > 6 else "")
        extra = f" (declared values: {{{shown}}})"
    return reader.error(
        lineno,
        f"invalid {attr.kind} value {_unquote(token)!r} "
        f"for attribute {attr.name!r}{extra}",
    )


def _parse_dense(reader, rows, linenos, attributes, quoted):
    """Return an ``(n_rows, n_attributes)`` float array of attribute codes."""
    n_attributes = len(attributes)
    split_rows = [
        _split_dense_row(reader, row, lineno, quoted)
        for row, lineno in zip(rows, linenos)
    ]
    for tokens, lineno in zip(split_rows, linenos):
        if len(tokens) != n_attributes:
            _check_length(reader, tokens, n_attributes, lineno)

    # Fast path: every column is numeric or a nominal whose values are
    # "0", "1", ... in order, so parsing the tokens as floats gives the codes.
    if all(
        a.kind == "numeric" or (a.kind == "nominal" and a.is_identity_nominal())
        for a in attributes
    ):
        try:
            codes = np.array(split_rows, dtype=np.float64)
        except ValueError:
            pass
        else:
            nominal = [j for j, a in enumerate(attributes) if a.kind == "nominal"]
            if not nominal:
                return codes
            sub = codes[:, nominal]
            n_values = np.array([len(attributes[j].values) for j in nominal])
            if np.all((sub >= 0) & (sub < n_values) & (sub == np.floor(sub))):
                return codes

    # General path, column by column, with precise error messages.
    codes = np.zeros((len(rows), n_attributes), dtype=np.float64)
    columns = list(zip(*split_rows))
    for j, attr in enumerate(attributes):
        column = columns[j]
        if attr.kind == "string":
            continue
        if attr.kind == "numeric":
            try:
                codes[:, j] = np.array(column, dtype=np.float64)
                continue
            except ValueError:
                pass
        else:
            index = attr.index
            try:
                codes[:, j] = [index[t] for t in column]
                continue
            except KeyError:
                pass
        for i, token in enumerate(column):
            try:
                codes[i, j] = attr.convert(token)
            except ValueError:
                raise _bad_value(reader, attr, token, linenos[i]) from None
    return codes


def _parse_sparse(reader, rows, linenos, attributes, quoted):
    """Return ``(row_of_entry, column_of_entry, code_of_entry)`` arrays."""
    n_attributes = len(attributes)
    index_tokens = []
    value_tokens = []
    counts = []
    for row, lineno in zip(rows, linenos):
        if row[0] != "{":
            tokens = _split_dense_row(reader, row, lineno, quoted)
            _check_length(reader, tokens, n_attributes, lineno)
            index_tokens.extend(range(n_attributes))
            value_tokens.extend(tokens)
            counts.append(n_attributes)
            continue
        inner = row[1:-1]
        if row[-1] != "}" or (not quoted and ("{" in inner or "}" in inner)):
            if re.search(r"\}\s*,\s*\{", row):
                raise reader.error(lineno, "instance weights are not supported")
            if row[-1] != "}":
                raise reader.error(lineno, "sparse row does not end with '}'")
            raise reader.error(lineno, "unexpected '{' or '}' inside a sparse row")
        if not inner.strip():
            counts.append(0)
            continue
        if not quoted:
            tokens = inner.replace(",", " ").split()
            if len(tokens) == 2 * (inner.count(",") + 1):
                index_tokens.extend(tokens[0::2])
                value_tokens.extend(tokens[1::2])
                counts.append(len(tokens) // 2)
                continue
            pieces = inner.split(",")
        else:
            try:
                pieces = _split_commas(inner)
            except ValueError as exc:
                raise reader.error(lineno, str(exc)) from None
        for piece in pieces:
            parts = piece.strip().split(None, 1)
            if len(parts) != 2:
                raise reader.error(
                    lineno,
                    f"malformed sparse entry {piece.strip()!r}: expected 'index value'",
                )
            index_tokens.append(parts[0])
            value_tokens.append(parts[1])
        counts.append(len(pieces))

    row_of = np.repeat(np.arange(len(rows), dtype=np.intp), counts)
    try:
        col_of = np.fromiter(map(int, index_tokens), np.int64, len(index_tokens))
    except ValueError:
        for k, token in enumerate(index_tokens):
            try:
                int(token)
            except ValueError:
                raise reader.error(
                    linenos[row_of[k]], f"bad sparse index {token!r}"
                ) from None
        raise  # pragma: no cover
    bad = np.flatnonzero((col_of < 0) | (col_of >= n_attributes))
    if bad.size:
        k = bad[0]
        raise reader.error(
            linenos[row_of[k]],
            f"bad sparse index {col_of[k]}: indices are 0-based and the file "
            f"declares {n_attributes} attributes",
        )
    if col_of.size > 1:
        same_row = row_of[1:] == row_of[:-1]
        bad = np.flatnonzero(same_row & (col_of[1:] <= col_of[:-1]))
        if bad.size:
            k = bad[0] + 1
            raise reader.error(
                linenos[row_of[k]],
                f"bad sparse index {col_of[k]}: indices must be strictly "
                "increasing within a row",
            )
    values = _convert_entries(reader, attributes, col_of, value_tokens, row_of, linenos)
    return row_of, col_of, values


def _convert_entries(reader, attributes, col_of, tokens, row_of, linenos):
    """Convert sparse value tokens to codes through a small lookup table."""
    distinct = list(set(tokens))
    # Group attributes that convert identically: all numeric ones, nominal
    # ones per declaration, and strings (always 0).
    group_of_decl = {}
    groups = []
    attr_group = np.empty(len(attributes), dtype=np.intp)
    for j, attr in enumerate(attributes):
        key = (attr.kind, attr.values)
        if key not in group_of_decl:
            group_of_decl[key] = len(groups)
            groups.append(attr)
        attr_group[j] = group_of_decl[key]

    if len(groups) * len(distinct) <= _MAX_TABLE_CELLS:
        table = np.empty((len(groups), len(distinct)), dtype=np.float64)
        valid = np.ones((len(groups), len(distinct)), dtype=bool)
        for g, attr in enumerate(groups):
            for u, token in enumerate(distinct):
                try:
                    table[g, u] = attr.convert(token)
                except ValueError:
                    valid[g, u] = False
        code = {token: u for u, token in enumerate(distinct)}
        token_id = np.fromiter(map(code.__getitem__, tokens), np.intp, len(tokens))
        entry_group = attr_group[col_of]
        ok = valid[entry_group, token_id]
        if ok.all():
            return table[entry_group, token_id]
        k = int(np.flatnonzero(~ok)[0])
        attr = attributes[col_of[k]]
        raise _bad_value(reader, attr, tokens[k], linenos[row_of[k]])

    values = np.empty(len(tokens), dtype=np.float64)
    for k, (j, token) in enumerate(zip(col_of.tolist(), tokens)):
        try:
            values[k] = attributes[j].convert(token)
        except ValueError:
            raise _bad_value(reader, attributes[j], token, linenos[row_of[k]]) from None
    return values


# ---------------------------------------------------------------------------
# Labels to 0/1
# ---------------------------------------------------------------------------


def _positive_index(attr):
    """Index of the value that means "label present" for a nominal label."""
    for i, value in enumerate(attr.values):
        if value.lower() in _POSITIVE_LABEL_VALUES:
            return i
    return 1


def _check_label_attributes(reader, attributes, label_idx):
    for j in label_idx:
        attr = attributes[j]
        if attr.kind == "string":
            raise reader.error(
                attr.lineno, f"label attribute {attr.name!r} is a string attribute"
            )
        if attr.kind == "nominal" and len(attr.values) != 2:
            raise reader.error(
                attr.lineno,
                f"label attribute {attr.name!r} must have exactly two nominal "
                f"values, found {len(attr.values)}",
            )


def _codes_to_labels(reader, attributes, label_idx, codes, linenos):
    """Map label codes (one column per label, one row per sample) to 0/1."""
    # int64, not int8: scikit-learn 1.9's label_binarize casts the classes
    # arange(n_labels) to y's dtype, which wraps around in int8 beyond 127
    # labels and silently scrambles the columns (bibtex has 159).
    Y = np.zeros(codes.shape, dtype=np.int64)
    for k, j in enumerate(label_idx):
        attr = attributes[j]
        column = codes[:, k]
        missing = np.isnan(column)
        if missing.any():
            i = int(np.flatnonzero(missing)[0])
            raise reader.error(
                linenos[i],
                f"missing value '?' for label {attr.name!r} "
                "(missing labels are not supported)",
            )
        if attr.kind == "nominal":
            positive = _positive_index(attr)
            result = column == positive
        else:
            bad = (column != 0) & (column != 1)
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise reader.error(
                    linenos[i],
                    f"numeric label {attr.name!r} has value {float(column[i]):g}; "
                    "numeric labels must be 0 or 1",
                )
            result = column == 1
        Y[:, k] = result
    return Y


# ---------------------------------------------------------------------------
# Public function
# ---------------------------------------------------------------------------


def _read_text(path):
    if str(path).lower().endswith(".gz"):
        with gzip.open(path, "rb") as f:
            data = f.read()
    else:
        data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    if text.startswith("\ufeff"):
        text = text[1:]
    return text


def load_arff(path, *, labels=None, xml=None, return_X_y=False):
    """Load a multi-label dataset from an ARFF file.

    Reads dense and sparse ARFF files in the MULAN convention (label names in
    an XML file) and the MEKA convention (``-C N`` in the ``@relation`` name).
    The reader is written for speed: a 7395 x 1836 sparse file with 159
    labels loads in a fraction of a second.

    Parameters
    ----------
    path : str or path-like
        Path of the ARFF file. A name ending in ``.gz`` is decompressed on
        the fly.

    labels : int, str, list of str or None, default=None
        Which attributes are labels:

        - int ``N`` (MEKA convention): the first ``N`` attributes if
          ``N > 0``, the last ``|N|`` attributes if ``N < 0``;
        - a list of attribute names (a single name may be passed as a str);
          ``target`` columns follow the order of the list;
        - None: use ``xml`` if given; otherwise a MULAN label file beside
          ``path`` named after it, with a ``-train``/``-test`` (or
          ``_train``/``_test``) suffix stripped if needed (``emotions.xml``
          for ``emotions-train.arff``); otherwise ``-C N`` parsed from the
          ``@relation`` name (MEKA). A label XML file wins over a ``-C N``
          in the relation name.

    xml : str, path-like or None, default=None
        Path of a MULAN label XML file (``<labels><label name="..."/>
        ...</labels>``; nested labels are read in document order). Labels are
        matched to attributes by name, and ``target`` columns follow the XML
        order, which may differ from the attribute order in the ARFF file.
        Cannot be combined with ``labels``.

    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the following attributes.

        data : ndarray of shape (n_samples, n_features) or CSR matrix
            Features as float64, in file order. A scipy CSR matrix when the
            data section uses sparse rows (``{index value, ...}``), else a
            dense array. Missing values (``?``) are NaN.
        target : ndarray of shape (n_samples, n_labels), dtype int64
            0/1 label indicator matrix, always dense.
        feature_names : list of str
            Names of the feature attributes.
        target_names : list of str
            Names of the labels, in the order of the ``target`` columns.
        DESCR : str
            Short description of the file and where its labels came from.
        filename : str
            Path of the file.
        relation : str
            Name given in the ``@relation`` line.

    (data, target) : tuple if ``return_X_y`` is True
        The arrays described above.

    Raises
    ------
    FileNotFoundError
        If ``path`` (or ``xml``) does not exist.
    ValueError
        If the file is malformed or its labels cannot be found. The message
        names the file and, where it applies, the line number.

    Notes
    -----
    Supported ARFF features: ``%`` comments, case-insensitive keywords,
    attribute names and values quoted with ``'`` or ``"``, ``numeric``,
    ``real`` and ``integer`` attributes, nominal attributes ``{a,b,...}``,
    sparse rows (0-based indices, omitted entries are 0) and ``?`` for a
    missing value. Values are separated by commas.

    Conversion rules:

    - A nominal *feature* is coded by the position of its value in the
      declaration (``{0,1}`` gives 0 and 1; ``{YES,NO}`` gives ``YES`` = 0,
      ``NO`` = 1). An omitted sparse entry is 0, that is the first declared
      value, as in Weka.
    - A *label* must be a nominal attribute with exactly two values, or a
      numeric attribute holding 0 or 1. The value meaning "present" is the
      first declared value equal to ``1``, ``yes`` or ``true``
      (case-insensitive), otherwise the second declared value. So ``{0,1}``,
      ``{1,0}``, ``{NO,YES}`` and ``{YES,NO}`` all do what one expects, and
      ``{a,b}`` makes ``b`` present. An omitted sparse label takes the first
      declared value.
    - ``?`` in a feature gives NaN; ``?`` in a label is an error, ``target``
      is always 0/1.
    - ``string`` attributes are dropped with a warning (they usually hold
      identifiers). ``date`` and ``relational`` attributes and instance
      weights are not supported and raise an error.
    - A data section without rows is an error.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from skmultihead.datasets import load_arff
    >>> path = Path(tempfile.mkdtemp()) / "tiny.arff"
    >>> _ = path.write_text(
    ...     "@relation 'tiny: -C 2'\\n"
    ...     "@attribute happy {0,1}\\n"
    ...     "@attribute sad {0,1}\\n"
    ...     "@attribute tempo numeric\\n"
    ...     "@attribute loudness numeric\\n"
    ...     "@data\\n"
    ...     "1,0,120.5,0.3\\n"
    ...     "0,1,60,?\\n"
    ... )
    >>> data = load_arff(path)
    >>> data.target_names, data.feature_names
    (['happy', 'sad'], ['tempo', 'loudness'])
    >>> data.data
    array([[120.5,   0.3],
           [ 60. ,   nan]])
    >>> X, Y = load_arff(path, labels=["sad", "happy"], return_X_y=True)
    >>> Y
    array([[0, 1],
           [1, 0]])
    """
    path = Path(os.fspath(path))
    if not path.is_file():
        raise FileNotFoundError(f"ARFF file not found: {path}")
    reader = _Reader(path)
    lines = _read_text(path).splitlines()
    relation, relation_lineno, attributes, data_start = _parse_header(reader, lines)
    label_idx, label_source = _resolve_labels(
        reader, path, attributes, relation, relation_lineno, labels, xml
    )
    _check_label_attributes(reader, attributes, label_idx)

    label_set = set(label_idx)
    dropped = [
        a for j, a in enumerate(attributes) if a.kind == "string" and j not in label_set
    ]
    feature_idx = [
        j for j, a in enumerate(attributes) if j not in label_set and a.kind != "string"
    ]
    if dropped:
        listed = ", ".join(f"{a.name!r} (line {a.lineno})" for a in dropped)
        warnings.warn(
            f"{path}: dropping {len(dropped)} string attribute(s): {listed}",
            UserWarning,
            stacklevel=2,
        )

    rows, linenos = _data_rows(lines, data_start)
    if not rows:
        raise reader.error(data_start, "the @data section contains no rows")
    data_text_has_quotes = any(("'" in r or '"' in r) for r in rows)
    is_sparse = any(r[0] == "{" for r in rows)
    n_rows = len(rows)

    if not is_sparse:
        codes = _parse_dense(reader, rows, linenos, attributes, data_text_has_quotes)
        X = np.ascontiguousarray(codes[:, feature_idx])
        Y = _codes_to_labels(
            reader,
            attributes,
            label_idx,
            codes[:, label_idx],
            linenos,
        )
    else:
        row_of, col_of, values = _parse_sparse(
            reader, rows, linenos, attributes, data_text_has_quotes
        )
        n_attributes = len(attributes)
        feature_pos = np.full(n_attributes, -1, dtype=np.intp)
        feature_pos[feature_idx] = np.arange(len(feature_idx))
        label_pos = np.full(n_attributes, -1, dtype=np.intp)
        label_pos[label_idx] = np.arange(len(label_idx))

        # Features: entries are sorted by row, then by column within a row, and
        # feature_pos is increasing, so CSR arrays can be built directly.
        is_feature = feature_pos[col_of] >= 0
        f_rows = row_of[is_feature]
        indptr = np.zeros(n_rows + 1, dtype=np.int64)
        np.cumsum(np.bincount(f_rows, minlength=n_rows), out=indptr[1:])
        index_dtype = np.int32 if indptr[-1] < 2**31 else np.int64
        X = sp.csr_matrix(
            (
                values[is_feature],
                feature_pos[col_of[is_feature]].astype(index_dtype),
                indptr.astype(index_dtype),
            ),
            shape=(n_rows, len(feature_idx)),
        )
        X.eliminate_zeros()

        # Labels: start from the code of an omitted entry (0 = first declared
        # value), then write the explicit entries.
        label_codes = np.zeros((n_rows, len(label_idx)), dtype=np.float64)
        is_label = label_pos[col_of] >= 0
        l_rows = row_of[is_label]
        l_cols = label_pos[col_of[is_label]]
        label_codes[l_rows, l_cols] = values[is_label]
        Y = _codes_to_labels(reader, attributes, label_idx, label_codes, linenos)

    feature_names = [attributes[j].name for j in feature_idx]
    target_names = [attributes[j].name for j in label_idx]
    if return_X_y:
        return X, Y
    descr = (
        f"ARFF file {path.name} (relation {relation!r}): {n_rows} samples, "
        f"{len(feature_names)} features ({'sparse' if is_sparse else 'dense'}), "
        f"{len(target_names)} labels (from {label_source}), "
        f"label cardinality {Y.sum(axis=1).mean():.3f}."
    )
    return Bunch(
        data=X,
        target=Y,
        feature_names=feature_names,
        target_names=target_names,
        DESCR=descr,
        filename=str(path),
        relation=relation,
    )
