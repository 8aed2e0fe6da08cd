"""
C{lin6-resolvd}: the node daemon of LIN6 mobile nodes and content servers
(the original design's I{lin6resolvd}).

It configures the node's LIN6 address and dataplane, finds its Load Sharing
servers through DNS, obtains a Mapping Agent from them (with the cookie
exchange), registers its locator with HMAC-signed REGISTERs and keeps the
binding fresh, follows movement from netlink, resolves peers through its MA
into the dataplane and reports its figures to the MA.

  - L{lin6twisted.resolvd.core}: the sans-IO decisions and state machine;
  - L{lin6twisted.resolvd.service}: the Twisted service feeding it;
  - L{lin6twisted.resolvd.netmon}: movement detection (pyroute2);
  - L{lin6twisted.resolvd.host}: the node's own addresses;
  - L{lin6twisted.resolvd.state}: the persisted sequence counter;
  - L{lin6twisted.resolvd.control}: the local status socket (JSON lines);
  - L{lin6twisted.resolvd.cli}: C{lin6 node status|cache|resolve};
  - L{lin6twisted.resolvd.settings}: the configuration file;
  - L{lin6twisted.resolvd.tap}: C{twistd lin6-resolvd --config FILE}.
"""
