"""
The LIN6 kernel dataplane: eBPF programs (C{dataplane_c/}) driven from Python.

L{IDataplane} is what the node daemon talks to; L{FakeDataplane} is an
in-memory implementation for unit tests of daemons, and
L{lin6twisted.dataplane.bpf.BPFDataplane} the real one.
"""

from lin6twisted.dataplane.fake import FakeDataplane
from lin6twisted.dataplane.interfaces import (
    COUNTER_NAMES,
    DataplaneError,
    IDataplane,
    MissHandler,
)

__all__ = ["COUNTER_NAMES", "DataplaneError", "FakeDataplane", "IDataplane", "MissHandler"]
