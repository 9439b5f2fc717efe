"""The CSR helpers of :mod:`yuma._sparse`: the direct assembly in ``csr_from_parts`` gives what
scipy's constructor gives, for every form of parts (the direct one and the fallback)."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from yuma._sparse import _csr_fields, csr_from_parts, is_sparse


def constructed(data: Any, indices: Any, indptr: Any, shape: tuple[int, int]) -> sp.csr_array:
    out = sp.csr_array((data, indices, indptr), shape=shape)
    out.has_sorted_indices = True
    out.has_canonical_format = True
    return out


@st.composite
def canonical_parts(draw: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[Any, Any]]:
    """Canonical CSR parts of any dtype the library meets, consistent lengths or spare room."""
    rows, cols = draw(st.integers(0, 5)), draw(st.integers(1, 6))
    per_row = [sorted(draw(st.sets(st.integers(0, cols - 1), max_size=cols))) for _ in range(rows)]
    indptr = np.concatenate(([0], np.cumsum([len(r) for r in per_row]))).astype(
        draw(st.sampled_from([np.int32, np.int64]))
    )
    indices = np.array(
        [j for r in per_row for j in r], dtype=draw(st.sampled_from([np.int32, np.int64]))
    )
    data = np.array(
        draw(
            st.lists(st.sampled_from([0.0, 0.5, 3.0]), min_size=indices.size, max_size=indices.size)
        ),
        dtype=draw(st.sampled_from([np.float64, np.float32])),
    )
    if draw(st.booleans()):  # arrays longer than the stored entries (scipy cuts them)
        indices = np.append(indices, np.zeros(2, dtype=indices.dtype))
        data = np.append(data, np.ones(2, dtype=data.dtype))
    kind = draw(st.sampled_from([int, np.int64]))
    return data, indices, indptr, (kind(rows), kind(cols))


@settings(max_examples=300, deadline=None)
@given(canonical_parts())
def test_csr_from_parts_equals_the_constructor(case: Any) -> None:
    data, indices, indptr, shape = case
    got = csr_from_parts(data, indices, indptr, shape)
    ref = constructed(data, indices, indptr, shape)
    assert type(got) is type(ref) is sp.csr_array
    assert got.shape == ref.shape and all(type(k) is int for k in got.shape)
    assert vars(got).keys() == vars(ref).keys()
    assert got.has_canonical_format and got.has_sorted_indices
    for name, given_array in (("data", data), ("indices", indices), ("indptr", indptr)):
        a, b = getattr(got, name), getattr(ref, name)
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
        # the caller's array is shared, or copied, alike
        assert np.shares_memory(a, given_array) == np.shares_memory(b, given_array)
    np.testing.assert_array_equal(got.toarray(), ref.toarray())
    assert got.maxprint == ref.maxprint


def test_the_direct_assembly_is_on_with_this_scipy() -> None:
    """With the scipy installed here the direct assembly is verified and used."""
    assert _csr_fields() is not None


def test_is_sparse_for_every_kind_of_matrix() -> None:
    """The plain-ndarray shortcut answers as scipy does for every format and array type
    (an ndarray subclass takes scipy's test)."""

    class Sub(np.ndarray):  # type: ignore[type-arg]
        pass

    dense = np.eye(3)
    kinds: list[Any] = [dense, dense[:2], dense.view(Sub), dense.tolist(), 3.0]
    kinds += [sp.csr_array(dense), sp.csc_matrix(dense), sp.coo_array(dense), sp.dok_array(dense)]
    kinds += [sp.lil_matrix(dense), sp.bsr_array(dense), sp.dia_matrix(dense)]
    for x in kinds:
        assert is_sparse(x) is bool(sp.issparse(x))
    assert [is_sparse(x) for x in kinds] == [False] * 5 + [True] * 7
