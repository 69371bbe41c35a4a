"""Designation settings (`DEMIMAS_*` environment variables)."""

from __future__ import annotations

from pydantic import Field

from demimas_common.settings import CommonSettings

__all__ = ["DesignationSettings"]


class DesignationSettings(CommonSettings):
    procedural_threshold: float = Field(
        default=0.8, gt=0, le=1, description="Share of procedural departures that meets criterion 4."
    )
