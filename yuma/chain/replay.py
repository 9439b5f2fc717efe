"""Running snapshots: one epoch, a chain of epochs, and a subnet's mechanisms.

* :func:`run_epoch` — one ``epoch_mechanism`` call (or ``epoch_dense_mechanism``);
* :func:`replay` — consecutive epochs of one subnet, carrying stored bonds and permits;
* :func:`run_mechanisms` — ``epoch_with_mechanisms``: emission split and aggregation (spec §9).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from yuma.chain import ops
from yuma.chain.exact import epoch_exact
from yuma.chain.output import ChainEpochOutput
from yuma.chain.snapshot import SubnetSnapshot

__all__ = [
    "AGGREGATE_KEYS",
    "ChainEpochOutput",
    "SubnetEpochOutput",
    "apply_events",
    "replay",
    "run_epoch",
    "run_mechanisms",
]

Arithmetic = Literal["exact", "float"]

#: Keys of :meth:`SubnetEpochOutput.to_dict` (the vector files' ``aggregate.expect``).
AGGREGATE_KEYS = (
    "dividends",
    "stake_weight",
    "consensus",
    "validator_trust",
    "emission",
    "server_emission",
    "validator_emission",
    "active",
    "new_validator_permit",
)

_U16_MAX = 65535
_U64_MAX = (1 << 64) - 1


def run_epoch(
    snapshot: SubnetSnapshot, arithmetic: Arithmetic = "exact", threads: int | None = None
) -> ChainEpochOutput:
    """Run one epoch of ``snapshot``.

    ``arithmetic="exact"`` reproduces the chain's fixed-point numbers bit for bit;
    ``"float"`` maps the snapshot onto the float core :func:`yuma.epoch` and quantises its
    results like the chain (u16 = floor(x · 65535), u64 = floor(x · E)).

    ``threads``: at most this many numba threads (None: numba's own setting, by default every
    core). The exact sparse epoch runs its row kernels on several threads from
    :data:`yuma.chain._parallel.PARALLEL_MIN_ENTRIES` stored entries on; the results do not
    depend on the thread count, bit for bit.

    A snapshot carrying ``commit_reveal`` state has its due commits revealed and the
    commit-reveal mask applied first (:func:`yuma.chain.commits.apply_commit_reveal`).
    """
    from yuma._threads import check_threads, numba_threads

    threads = check_threads(threads)
    if snapshot.commit_reveal is not None:
        from yuma.chain.commits import apply_commit_reveal

        snapshot = apply_commit_reveal(snapshot)[0]
    if arithmetic == "exact":
        with numba_threads(threads):
            return epoch_exact(snapshot)
    if arithmetic == "float":
        from yuma.chain.floatpath import epoch_float

        with numba_threads(threads):
            return epoch_float(snapshot)
    raise ValueError(f"arithmetic must be 'exact' or 'float', got {arithmetic!r}")


def apply_events(snapshot: SubnetSnapshot) -> SubnetSnapshot:
    """Apply ``snapshot.pre_epoch_events`` to its bonds and permits, in order.

    ``replace_neuron`` clears bond row ``uid`` and drops permit ``uid``; ``reset_bonds`` removes
    every ``[uid, ·]`` bond from every row.
    """
    if not snapshot.pre_epoch_events:
        return snapshot
    bonds = snapshot.bonds
    permits = list(snapshot.validator_permit)
    for e in snapshot.pre_epoch_events:
        if e.event == "replace_neuron":
            bonds = bonds.filter(bonds.row_ids() != e.uid)
            if e.uid < len(permits):
                permits[e.uid] = False
        else:
            bonds = bonds.filter(bonds.indices != e.uid)
    return snapshot.replace(bonds=bonds, validator_permit=tuple(permits))


def replay(
    snapshots: Sequence[SubnetSnapshot],
    arithmetic: Arithmetic = "exact",
    threads: int | None = None,
) -> list[ChainEpochOutput]:
    """Run consecutive epochs of one subnet mechanism.

    The first snapshot runs as given. Every later one runs with the bonds and permits the
    previous epoch stored (its own ``bonds`` and ``validator_permit`` are ignored), after its
    ``pre_epoch_events``; all its other inputs (weights, stake, blocks, …) are its own.
    ``threads`` as in :func:`run_epoch`.
    """
    outputs: list[ChainEpochOutput] = []
    for k, snap in enumerate(snapshots):
        if k > 0:
            prev = outputs[-1]
            snap = apply_events(
                snap.replace(bonds=prev.bonds, validator_permit=tuple(prev.new_validator_permit))
            )
        outputs.append(run_epoch(snap, arithmetic, threads))
    return outputs


@dataclass(frozen=True)
class SubnetEpochOutput:
    """Subnet-level terms aggregated over mechanisms (``persist_netuid_epoch_terms``).

    ``dividends``, ``stake_weight``, ``consensus``, ``validator_trust`` (u16) and ``emission``
    (u64) are emission-weighted sums, floored at every step; ``server_emission`` and
    ``validator_emission`` are plain sums; ``active`` and ``new_validator_permit`` are OR-ed;
    ``stake`` is summed over mechanisms, as the chain does. ``mechanism_emissions`` is the split.
    """

    dividends: tuple[int, ...]
    stake_weight: tuple[int, ...]
    consensus: tuple[int, ...]
    validator_trust: tuple[int, ...]
    emission: tuple[int, ...]
    server_emission: tuple[int, ...]
    validator_emission: tuple[int, ...]
    active: tuple[bool, ...]
    new_validator_permit: tuple[bool, ...]
    stake: tuple[int, ...]
    mechanism_emissions: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        """The ``aggregate.expect`` keys as plain lists."""
        return {k: list(getattr(self, k)) for k in AGGREGATE_KEYS}


def run_mechanisms(
    snapshots: Sequence[SubnetSnapshot],
    subnet_emission: int,
    emission_split: Sequence[int] | None = None,
    arithmetic: Arithmetic = "exact",
    threads: int | None = None,
) -> tuple[list[ChainEpochOutput], SubnetEpochOutput]:
    """``epoch_with_mechanisms``: split ``subnet_emission`` over the mechanisms (one snapshot
    each, in mechanism order), run each epoch with its share and aggregate the terms.

    ``emission_split`` is ``MechanismEmissionSplit`` (u16 shares summing to 65535) or ``None``
    for an even split. Each snapshot's own ``emission`` is replaced by its share. ``threads`` as
    in :func:`run_epoch`.
    """
    m = len(snapshots)
    if m == 0:
        raise ValueError("snapshots: at least one mechanism is required")
    n = snapshots[0].n
    if any(s.n != n for s in snapshots):
        raise ValueError("snapshots: every mechanism must have the same n")
    shares = ops.split_emissions(subnet_emission, m, emission_split)
    outs = [
        run_epoch(s.replace(emission=e), arithmetic, threads)
        for s, e in zip(snapshots, shares, strict=True)
    ]
    e_total = int(subnet_emission)
    weights = [
        ((e << 64) // e_total) if e_total else ((1 << 64) if k == 0 else 0)
        for k, e in enumerate(shares)
    ]

    def acc(key: str, cap: int) -> tuple[int, ...]:
        total = [0] * n
        for out, w in zip(outs, weights, strict=True):
            vals = getattr(out, key)
            # U64F64: existing + added ⊗ w, then floored to the integer type
            total = [min(t + ((int(v) * w) >> 64), cap) for t, v in zip(total, vals, strict=True)]
        return tuple(total)

    def plain(key: str) -> tuple[int, ...]:
        return tuple(min(sum(int(getattr(o, key)[i]) for o in outs), _U64_MAX) for i in range(n))

    def any_of(key: str) -> tuple[bool, ...]:
        return tuple(any(bool(getattr(o, key)[i]) for o in outs) for i in range(n))

    subnet = SubnetEpochOutput(
        dividends=acc("dividends", _U16_MAX),
        stake_weight=acc("stake_weight", _U16_MAX),
        consensus=acc("consensus", _U16_MAX),
        validator_trust=acc("validator_trust", _U16_MAX),
        emission=acc("emission", _U64_MAX),
        server_emission=plain("server_emission"),
        validator_emission=plain("validator_emission"),
        active=any_of("active"),
        new_validator_permit=any_of("new_validator_permit"),
        stake=plain("stake"),
        mechanism_emissions=tuple(shares),
    )
    return outs, subnet
