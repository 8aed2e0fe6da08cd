"""
DNS for LIN6: the authoritative server (C{twistd lin6-dns}) and the resolver
client every daemon uses.

  - L{lin6twisted.dns.txt}: the LIN6 TXT syntax (no Twisted);
  - L{lin6twisted.dns.zone}: BIND zone files;
  - L{lin6twisted.dns.server}: the server factory and SIGHUP reloads;
  - L{lin6twisted.dns.tap}: the C{twistd} plugin's options and service;
  - L{lin6twisted.dns.resolver}: L{Lin6Resolver<lin6twisted.dns.resolver.Lin6Resolver>};
  - L{lin6twisted.dns.cli}: C{lin6 resolve}.

See C{docs/dns.md}.
"""
