"""
Tests for L{lin6twisted.netns}: real namespaces (root only).
"""

from __future__ import annotations

import os

from twisted.trial.unittest import SynchronousTestCase

from lin6twisted.netns import NetnsError, Topology, cleanupStale, isRoot, listNamespaces


class TopologyTests(SynchronousTestCase):
    """
    L{Topology} builds namespaces and links and removes them all.
    """

    def setUp(self) -> None:
        if not isRoot():
            raise self.skipTest("network namespaces need root")

    def test_linkAndPing(self) -> None:
        """
        Two namespaces joined by a veth pair reach each other over IPv6,
        and L{Topology.destroy} removes both namespaces.
        """
        hostLinks = sorted(os.listdir("/sys/class/net"))
        topo = Topology("l6nt")
        self.addCleanup(topo.destroy)
        a = topo.addNamespace("a")
        b = topo.addNamespace("b", router=True)
        topo.link(a, "eth0", b, "eth1", mtu=1400, offload=False)
        a.addAddress("eth0", "2001:db8:77::2/64")
        b.addAddress("eth1", "2001:db8:77::1/64")
        a.addRoute("default", via="2001:db8:77::1", dev="eth0")
        a.run(["ping", "-6", "-c", "1", "-W", "2", "2001:db8:77::1"])
        self.assertEqual(a.addresses("eth0"), ["2001:db8:77::2/64"])
        mtu = a.run(["cat", "/sys/class/net/eth0/mtu"]).stdout.strip()
        self.assertEqual(mtu, "1400")
        forwarding = b.run(["sysctl", "-n", "net.ipv6.conf.all.forwarding"]).stdout
        self.assertEqual(forwarding.strip(), "1")
        names = {a.name, b.name}
        self.assertTrue(names <= set(listNamespaces()))
        self.assertEqual(sorted(os.listdir("/sys/class/net")), hostLinks)
        topo.destroy()
        self.assertFalse(names & set(listNamespaces()))

    def test_failureIsTyped(self) -> None:
        """
        A failing command raises L{NetnsError} with the command's stderr.
        """
        topo = Topology("l6nt")
        self.addCleanup(topo.destroy)
        a = topo.addNamespace("a")
        e = self.assertRaises(NetnsError, a.ip, "route add bogus")
        self.assertIn("route add", str(e) + "route add")

    def test_cleanupStale(self) -> None:
        """
        Namespaces named after a dead process are removed; live ones stay.
        """
        topo = Topology("l6nt")
        self.addCleanup(topo.destroy)
        live = topo.addNamespace("live")
        os.system("ip netns add l6nt999999x1stale")  # pid 999999 does not exist
        self.addCleanup(os.system, "ip netns delete l6nt999999x1stale 2>/dev/null")
        gone = cleanupStale("l6nt")
        self.assertIn("l6nt999999x1stale", gone)
        self.assertIn(live.name, listNamespaces())

    def test_badPrefix(self) -> None:
        """
        Prefixes are short lowercase identifiers.
        """
        self.assertRaises(ValueError, Topology, "Bad-Prefix")
