"""The array namespace a step runs in: numpy or ``jax.numpy``, through ``array-api-compat``.

Every dense step of the epoch is written once against an array namespace ``xp`` (the Python
array API), so the same code runs eagerly on numpy and traced under ``jax.jit``/``vmap``/
``lax.scan``. Value-dependent branches are written with ``xp.where`` so they trace.
"""

from __future__ import annotations

from typing import Any

import array_api_compat
import array_api_compat.numpy as np_xp

__all__ = ["Namespace", "direct_numpy_call", "namespace", "np_xp"]

#: An array namespace module (``array_api_compat.numpy`` or ``jax.numpy``).
Namespace = Any


def namespace(*arrays: Any) -> Namespace:
    """The namespace of the array arguments; numpy's for Python scalars, lists and numpy arrays."""
    found = [a for a in arrays if hasattr(a, "__array_namespace__") or _is_jax(a)]
    if not found:
        return np_xp
    return array_api_compat.array_namespace(*found)


def _is_jax(x: Any) -> bool:
    return bool(array_api_compat.is_jax_array(x))


def direct_numpy_call(xp: Namespace | None, *arrays: Any) -> bool:
    """True when a building block is called directly on numpy-like input (no ``xp`` given and
    no JAX array): then it validates its arguments itself."""
    return xp is None and not any(_is_jax(a) for a in arrays)
