"""
Helpers for lin6twisted's own integration tests: daemons as subprocesses,
free ports, readiness waits.  Not used by the daemons themselves.
"""
