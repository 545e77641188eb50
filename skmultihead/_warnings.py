"""Warning classes of skmultihead and a helper that points warnings at user code."""

import os
import sys
import warnings

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


class TrainingInterruptedWarning(UserWarning):
    """Training was stopped by ``KeyboardInterrupt``; the model keeps the weights
    of the last completed epoch."""


def _user_stacklevel():
    """``stacklevel`` of the first frame outside skmultihead and scikit-learn (so
    that a warning names the line of user code that called fit/predict)."""
    frame = sys._getframe(2)  # the caller of warn_user
    level = 2
    skipped = (_PACKAGE_DIR, os.path.join("sklearn", ""))
    while frame is not None:
        filename = os.path.abspath(frame.f_code.co_filename)
        if not (
            filename.startswith(_PACKAGE_DIR)
            or skipped[1] in filename
            or filename.startswith("<frozen")
            or os.path.basename(filename) == "contextlib.py"
        ):
            return level
        frame = frame.f_back
        level += 1
    return 1


def warn_user(message, category=UserWarning):
    """``warnings.warn`` with the stack level of the user's call."""
    warnings.warn(message, category, stacklevel=_user_stacklevel())
