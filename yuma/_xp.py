"""The array namespace a step runs in: numpy or ``jax.numpy``, through ``array-api-compat``.

Every dense step of the epoch is written once against an array namespace ``xp`` (the Python
array API), so the same code runs eagerly on numpy and traced under ``jax.jit``/``vmap``/
``lax.scan``. Value-dependent branches are written with ``xp.where`` so they trace.
"""

from __future__ import annotations

from typing import Any

import array_api_compat
import numpy as np

__all__ = [
    "Namespace",
    "direct_numpy_call",
    "eager",
    "matvec",
    "namespace",
    "np_xp",
    "vecmat",
]

#: An array namespace module (numpy, ``array_api_compat.numpy`` or ``jax.numpy``).
Namespace = Any


def _numpy_namespace() -> Namespace:
    # numpy 2.1 implements every function the steps use (``astype``, ``concat``,
    # ``cumulative_sum``, ``argsort(stable=)``) in its own namespace; there the compat layer's
    # wrappers are pure per-call overhead, about a fifth of a 64 x 64 reference epoch.
    major, minor = (int(part) for part in np.__version__.split(".")[:2])
    if (major, minor) >= (2, 1):
        return np
    import array_api_compat.numpy as compat

    return compat


#: The namespace the numpy reference runs in.
np_xp: Namespace = _numpy_namespace()


def namespace(*arrays: Any) -> Namespace:
    """The namespace of the array arguments; numpy's for Python scalars, lists and numpy arrays."""
    found = [a for a in arrays if not isinstance(a, np.ndarray) and (
        hasattr(a, "__array_namespace__") or _is_jax(a))]  # fmt: skip
    if not found:
        return np_xp
    return array_api_compat.array_namespace(*found)


def _is_jax(x: Any) -> bool:
    return bool(array_api_compat.is_jax_array(x))


def direct_numpy_call(xp: Namespace | None, *arrays: Any) -> bool:
    """True when a building block is called directly on numpy-like input (no ``xp`` given and
    no JAX array): then it validates its arguments itself."""
    return xp is None and not any(_is_jax(a) for a in arrays)


def eager(xp: Namespace) -> bool:
    """True for numpy's namespaces, whose values are concrete: a step may branch on a value in
    Python there (to skip work), never under a JAX trace."""
    return xp is np_xp or xp is np or getattr(xp, "__name__", "") == "array_api_compat.numpy"


# The dense steps take leading batch axes: (..., R, C) matrices and (..., R) / (..., C) vectors,
# so the numpy reference runs a stack of epochs in one pass (``yuma.epoch_batch``). One epoch
# (and every JAX trace, where ``vmap`` adds the batch) keeps the plain 1-D/2-D products.


def vecmat(v: Any, m: Any) -> Any:
    """``v @ m`` over leading axes: (..., R) and (..., R, C) -> (..., C)."""
    if v.ndim == 1 and m.ndim == 2:
        return v @ m
    return (v[..., None, :] @ m)[..., 0, :]


def matvec(m: Any, v: Any) -> Any:
    """``m @ v`` over leading axes: (..., R, C) and (..., C) -> (..., R)."""
    if v.ndim == 1 and m.ndim == 2:
        return m @ v
    return (m @ v[..., :, None])[..., 0]
