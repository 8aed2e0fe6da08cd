"""
The lab: a whole wide-area lin6twisted deployment in network namespaces on
one machine (C{lin6 lab}), with WAN delays from real RIPE Atlas data.
"""
