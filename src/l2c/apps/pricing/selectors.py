"""Pricing reads (ADR 0006)."""

from __future__ import annotations
