"""yuma: Bittensor's Yuma Consensus as a fast, faithful pure-function numerical library.

The float64 core reproduces one epoch of the chain (``opentensor/subtensor``,
``run_epoch.rs``); every step is a public function of its own module:

========================  =================================================================
``yuma.epoch``            one epoch (dense: the chain's dense path; sparse: its sparse path)
``yuma.epoch_batch``      a batch of independent dense epochs in one call (numba, jax, numpy)
``yuma.backends``         the numba and JAX backends and backend selection
``yuma.pipeline``         the dense epoch as one named list of pure steps (``CHAIN``)
``yuma.attacks``          adversarial subnets: cabals, weight copiers
``yuma.YumaParams``       hyperparameters, with ``YumaParams.from_chain`` for chain units
``yuma.EpochResult``      every output of an epoch
``yuma.median``           the stake-weighted median (scalar, dense columns, sparse columns)
``yuma.clip``             clipping weights at consensus
``yuma.normalize``        vector, row and column normalisation, column-max upscaling
``yuma.interpolate``      the bonds penalty
``yuma.ema``              bond EMAs with a scalar or a per-cell rate
``yuma.liquid_alpha``     the liquid-alpha sigmoid
``yuma.permits``          top-k validator permits
``yuma.masks``            the chain's masks, dense and sparse
``yuma.emission``         the server / validator emission split
========================  =================================================================
"""

from yuma import attacks, scenarios, variants
from yuma.batch import BatchResult, epoch_batch
from yuma.clip import col_clip, col_clip_sparse
from yuma.compare import Comparison, compare
from yuma.ema import mat_ema, mat_ema_alpha, mat_ema_alpha_sparse, mat_ema_sparse
from yuma.emission import emission_shares
from yuma.inputs import EpochInputs, prepare_inputs
from yuma.interpolate import interpolate, interpolate_sparse
from yuma.liquid_alpha import alpha_sigmoid
from yuma.median import weighted_median, weighted_median_col, weighted_median_col_sparse
from yuma.normalize import (
    col_max_upscale,
    col_max_upscale_sparse,
    col_normalize,
    col_normalize_sparse,
    normalize,
    row_normalize,
    row_normalize_sparse,
)
from yuma.params import YumaParams
from yuma.permits import is_topk, is_topk_nonzero
from yuma.result import EpochResult
from yuma.run import epoch
from yuma.simulation import SimulationResult, SimulationState, simulate

__version__ = "0.1.0"

__all__ = [
    "BatchResult",
    "Comparison",
    "EpochInputs",
    "EpochResult",
    "SimulationResult",
    "SimulationState",
    "YumaParams",
    "__version__",
    "alpha_sigmoid",
    "attacks",
    "col_clip",
    "col_clip_sparse",
    "col_max_upscale",
    "col_max_upscale_sparse",
    "col_normalize",
    "col_normalize_sparse",
    "compare",
    "emission_shares",
    "epoch",
    "epoch_batch",
    "interpolate",
    "interpolate_sparse",
    "is_topk",
    "is_topk_nonzero",
    "mat_ema",
    "mat_ema_alpha",
    "mat_ema_alpha_sparse",
    "mat_ema_sparse",
    "normalize",
    "prepare_inputs",
    "row_normalize",
    "row_normalize_sparse",
    "scenarios",
    "simulate",
    "variants",
    "weighted_median",
    "weighted_median_col",
    "weighted_median_col_sparse",
]

from yuma.sweep import SweepResult, sweep

__all__ += ["SweepResult", "sweep"]
