"""
Tests for L{lin6twisted.wire}.
"""
