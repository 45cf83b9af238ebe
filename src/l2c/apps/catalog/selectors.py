"""Catalogue reads (ADR 0006). Other apps read the catalogue through this module."""

from __future__ import annotations

from .models import RulesVersion


def rules_version() -> int:
    """The current rules version (one indexed read): compiled pricing/configurator catalogues are
    cached per process under this number and rebuilt when it moves."""
    number = RulesVersion.objects.filter(pk=1).values_list("number", flat=True).first()
    return int(number) if number is not None else 0
