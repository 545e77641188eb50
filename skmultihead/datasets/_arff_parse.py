"""ARFF parsing for :func:`skmultihead.datasets.load_arff`: the file's text,
its ``@relation``/``@attribute`` header and its dense or sparse ``@data`` rows,
as numeric codes with line numbers for error messages.

Which attributes are labels, and how their codes become 0/1, is decided in
:mod:`._arff_labels`.
"""

# Authors: The skmultihead developers
# SPDX-License-Identifier: BSD-3-Clause

from __future__ import annotations

import gzip
import re

import numpy as np

_NUMERIC_TYPES = frozenset({"numeric", "real", "integer"})
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
