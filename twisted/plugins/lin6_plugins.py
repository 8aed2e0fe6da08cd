"""
twistd plugins for lin6twisted: one ServiceMaker line per daemon.
"""

from twisted.application.service import ServiceMaker

__all__: list[str] = []
