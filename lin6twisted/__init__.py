"""
lin6twisted: LIN6 mobility with wide-area load sharing for mobile streaming
services, built on Twisted.
"""

__version__ = "0.1.0"
