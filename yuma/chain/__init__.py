"""Bit-exact replay of the chain's Yuma Consensus epoch (``yuma.chain``)."""

from __future__ import annotations
