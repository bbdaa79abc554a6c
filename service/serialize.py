"""Scoring results (plain dataclasses of the core) as JSON bytes.

orjson serialises the frozen dataclasses of :mod:`riskmodel.scoring` field by field, in C:
the field names are the JSON names.
"""

from __future__ import annotations

import orjson


def dumps(payload: object) -> bytes:
    return orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY)
