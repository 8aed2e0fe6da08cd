"""
The Mapping Agent (lin6agentd in the original design): C{twistd lin6-ma}.

  - L{lin6twisted.ma.core}: the binding table and registration rules (no I/O);
  - L{lin6twisted.ma.journal}: the append-only journal (restarts keep bindings);
  - L{lin6twisted.ma.service}: the UDP mapping service (REGISTER, MAP_QUERY,
    NOTIFY, REPORT) with the directory, journal and shaper;
  - L{lin6twisted.ma.bandwidth}: per-level HTB classes on the content
    server's egress, matched by Node ID (pyroute2);
  - L{lin6twisted.ma.rtt}: ICMPv6 echo probing for the LS;
  - L{lin6twisted.ma.lsclient}: the mutual-TLS LS link (heartbeats, RTT
    requests, assignment notices, failover);
  - L{lin6twisted.ma.status}: HTTP C{/status} (JSON) and C{/metrics};
  - L{lin6twisted.ma.settings}, L{lin6twisted.ma.tap}: configuration and
    the twistd plugin.
"""
