"""Label resolution for :func:`skmultihead.datasets.load_arff`: which
attributes of a parsed ARFF file are labels (``labels`` argument, MULAN XML
file, or MEKA ``-C N`` in the relation name), and their codes as a 0/1
indicator matrix.
"""

# Authors: The skmultihead developers
# SPDX-License-Identifier: BSD-3-Clause

from __future__ import annotations

import re
import xml.parsers.expat
from pathlib import Path

import numpy as np

_POSITIVE_LABEL_VALUES = frozenset({"1", "yes", "true"})
_MEKA_C_RE = re.compile(r"(?<!\S)-C\s+(-?\d+)(?!\S)")
_SPLIT_SUFFIX_RE = re.compile(r"[-_](train|test)$", re.IGNORECASE)


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
