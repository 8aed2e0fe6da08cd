"""
twistd plugins for lin6twisted: one ServiceMaker line per daemon.
"""

from twisted.application.service import ServiceMaker

__all__: list[str] = []
lin6DNS = ServiceMaker("lin6 DNS server", "lin6twisted.dns.tap", "LIN6 zones.", "lin6-dns")
