"""Reader for multi-label ARFF files (MULAN and MEKA conventions).

:func:`load_arff` assembles the dataset; the parsing of the file is in
:mod:`._arff_parse` and the choice of the label attributes (and their 0/1
coding) in :mod:`._arff_labels`.
"""

# Authors: The skmultihead developers
# SPDX-License-Identifier: BSD-3-Clause

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.utils import Bunch

from ._arff_labels import _check_label_attributes, _codes_to_labels, _resolve_labels
from ._arff_parse import (
    _data_rows,
    _parse_dense,
    _parse_header,
    _parse_sparse,
    _read_text,
    _Reader,
)

__all__ = ["load_arff"]


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
