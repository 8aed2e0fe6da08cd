"""
twistd plugins for lin6twisted: one ServiceMaker line per daemon.
"""

from twisted.application.service import ServiceMaker

lin6DNS = ServiceMaker("lin6 DNS server", "lin6twisted.dns.tap", "LIN6 zones.", "lin6-dns")
lin6LS = ServiceMaker("lin6 Load Sharing server", "lin6twisted.ls.tap", "LIN6 LS.", "lin6-ls")
lin6MA = ServiceMaker("lin6 Mapping Agent", "lin6twisted.ma.tap", "LIN6 MA.", "lin6-ma")
lin6Resolvd = ServiceMaker(
    "lin6 node daemon", "lin6twisted.resolvd.tap", "LIN6 node daemon.", "lin6-resolvd"
)
