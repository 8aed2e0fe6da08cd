"""
Tests for L{lin6twisted.resolvd}.
"""
