"""screener: restricted-party screening for export compliance.

The library API that the CLI, the HTTP service and the pre-shipment hook all use::

    from screener import Screener, compare, check_shipment

    s = Screener.default()                      # the bundled, cited US Entity List
    s.screen_names(["Hikvision Europe B.V."])   # -> [RowResult(status=potential_match, ...)]
    compare("Huawei Tech Co", "Huawei Technologies Co., Ltd.").score
    check_shipment({"id": "SO-1", "parties": [{"role": "end_user", "name": "..."}]}).decision
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "Screener": "screener.screening",
    "compare": "screener.screening",
    "DEFAULT_THRESHOLD": "screener.screening",
    "check_shipment": "screener.shipment",
    "Shipment": "screener.shipment",
    "ShipmentDecision": "screener.shipment",
    "normalize": "screener.names.normalize",
    "screen_files": "screener.pipeline",
    "RowResult": "screener.models",
    "Match": "screener.models",
    "Comparison": "screener.models",
    "Party": "screener.models",
    "RestrictedList": "screener.models",
    "Status": "screener.models",
}

__all__ = ["__version__", *_EXPORTS]

if TYPE_CHECKING:
    from screener.models import (
        Comparison,
        Match,
        Party,
        RestrictedList,
        RowResult,
        Status,
    )
    from screener.names.normalize import normalize
    from screener.pipeline import screen_files
    from screener.screening import DEFAULT_THRESHOLD, Screener, compare
    from screener.shipment import Shipment, ShipmentDecision, check_shipment


def __getattr__(name: str) -> Any:
    """Import on first use, so `import screener` stays cheap for the CLI's start-up."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'screener' has no attribute {name!r}")
    return getattr(import_module(module), name)
