"""(being built — see ADR 0006)"""

from __future__ import annotations

from ninja import Router

router = Router()
