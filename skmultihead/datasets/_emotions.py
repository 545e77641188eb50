"""The emotions dataset (Trohidis et al., 2008), bundled with the package."""

# Authors: The skmultihead developers
# SPDX-License-Identifier: BSD-3-Clause

from importlib import resources

import numpy as np
from sklearn.utils import Bunch

from ._arff import load_arff

__all__ = ["load_emotions"]

_SUBSETS = ("train", "test", "all")


def _load_bundled(name):
    data_dir = resources.files(__package__).joinpath("data")
    xml_ref = data_dir.joinpath("emotions.xml")
    arff_ref = data_dir.joinpath(f"emotions-{name}.arff.gz")
    with (
        resources.as_file(arff_ref) as arff_path,
        resources.as_file(xml_ref) as xml_path,
    ):
        return load_arff(arff_path, xml=xml_path)


def load_emotions(*, subset="train", return_X_y=False):
    """Load the emotions dataset (music clips, multi-label classification).

    593 songs described by 72 numeric audio features, each tagged with one or
    more of 6 emotions. The data ship with the package (MULAN copy), so no
    download is needed.

    ==================   ==============================
    Samples total        593 (391 train, 202 test)
    Features             72, real
    Labels               6, 0/1 indicators
    Label cardinality    1.868 (train 1.813, test 1.975)
    ==================   ==============================

    Read more in the ``DESCR`` attribute of the returned Bunch.

    Parameters
    ----------
    subset : {"train", "test", "all"}, default="train"
        Which part to load: the MULAN training split (391 samples), the
        test split (202 samples), or both (593 samples, training samples
        first, then test samples).

    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the following attributes.

        data : ndarray of shape (n_samples, 72), dtype float64
            The audio features.
        target : ndarray of shape (n_samples, 6), dtype int64
            0/1 label indicator matrix.
        feature_names : list of str
            The names of the 72 features.
        target_names : list of str
            The names of the 6 labels: ``amazed-suprised``,
            ``happy-pleased``, ``relaxing-calm``, ``quiet-still``,
            ``sad-lonely`` and ``angry-aggresive`` (spelled as in the
            original files).
        DESCR : str
            Full description of the dataset.

    (data, target) : tuple if ``return_X_y`` is True
        The arrays described above.

    References
    ----------
    .. [1] K. Trohidis, G. Tsoumakas, G. Kalliris and I. Vlahavas,
       "Multi-label classification of music into emotions", Proceedings of
       the 9th International Conference on Music Information Retrieval
       (ISMIR 2008), 2008, pp. 325-330.

    Examples
    --------
    >>> from skmultihead.datasets import load_emotions
    >>> emotions = load_emotions()
    >>> emotions.data.shape, emotions.target.shape
    ((391, 72), (391, 6))
    >>> emotions.target_names[:3]
    ['amazed-suprised', 'happy-pleased', 'relaxing-calm']
    >>> X, Y = load_emotions(subset="all", return_X_y=True)
    >>> X.shape, float(Y.sum(axis=1).mean().round(3))
    ((593, 72), 1.868)
    """
    if subset not in _SUBSETS:
        raise ValueError(f"subset must be one of {_SUBSETS}, got {subset!r}")
    parts = [
        _load_bundled(name)
        for name in (("train", "test") if subset == "all" else (subset,))
    ]
    first = parts[0]
    X = np.vstack([p.data for p in parts])
    Y = np.vstack([p.target for p in parts])
    if return_X_y:
        return X, Y
    descr = (
        resources.files(__package__)
        .joinpath("data", "emotions.rst")
        .read_text(encoding="utf-8")
    )
    return Bunch(
        data=X,
        target=Y,
        feature_names=first.feature_names,
        target_names=first.target_names,
        DESCR=descr,
    )
