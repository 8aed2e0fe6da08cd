"""
The Load Sharing server (DESIGN.md sections 3-5; the paper's section IV).

The decisions live in the sans-IO core L{lin6twisted.ls.core} (MA table,
history table, heuristic, replica merge) and L{lin6twisted.ls.guard}
(cookies, rate limits); the protocols and services around it are in
L{lin6twisted.ls.channel}, L{lin6twisted.ls.service} and L{lin6twisted.ls.tap}.
"""
