"""Type aliases shared by the package."""

from __future__ import annotations

from typing import Any, TypeAlias

import numpy as np
import scipy.sparse as sp

FloatArray: TypeAlias = np.ndarray[Any, np.dtype[np.float64]]
BoolArray: TypeAlias = np.ndarray[Any, np.dtype[np.bool_]]
IntArray: TypeAlias = np.ndarray[Any, np.dtype[np.integer[Any]]]
#: A matrix in either format the library accepts and returns.
Matrix: TypeAlias = "np.ndarray[Any, Any] | sp.csr_array"
