"""
The lab: a whole wide-area lin6twisted deployment in network namespaces on
one machine (C{lin6 lab}), with WAN delays from real RIPE Atlas data.

    sudo .venv/bin/lin6 lab                     # etc/lab/default.toml
    sudo .venv/bin/lin6 lab --dad standard --report out.json --workdir /tmp/lab

Modules:
  - L{config}: the TOML configuration (C{etc/lab/default.toml});
  - L{plan}: the address plan and per-place WAN delays (pure);
  - L{ripe}: the RIPE Atlas country RTT matrix;
  - L{wan}: the WAN core and its C{l6wan} delay emulator (C{wan_c/});
  - L{deploy}: namespaces, files (zones, PKI, LDIF, daemon configs) and the
    real daemons (C{lin6-dns}, C{lin6-ls}, C{lin6-ma}, C{lin6-resolvd} with
    the eBPF dataplane, the stream servers);
  - L{stream}: the live stream and its player;
  - L{scenario}: attach, stream, move, LS crash/restart, MA stop;
  - L{report}: C{lab-report.json}, the text summary and the PNG plot;
  - L{cli}: C{lin6 lab} with its progress display and teardown on Ctrl-C.
"""
