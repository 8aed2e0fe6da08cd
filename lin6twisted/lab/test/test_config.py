"""
Tests for L{lin6twisted.lab.config} and L{lin6twisted.lab.plan}.
"""

from __future__ import annotations

from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from lin6twisted.address import NodeID
from lin6twisted.config import ConfigError, loadConfig, loadTOMLString
from lin6twisted.lab.config import DADMode, loadLabConfig, parseLabConfig
from lin6twisted.lab.plan import makePlan
from lin6twisted.lab.ripe import MatrixError, RTTMatrix

TRIMMED = Path(__file__).parent / "trimmed.toml"


def _matrix() -> RTTMatrix:
    rows = [["cty1", "cty2", "rtt_cnt", "rtt_avg", "rtt_std", "rtt_min", "rtt_max"]]
    countries = ["CA", "DE", "ES", "FR", "MX", "NL", "US"]
    for i, a in enumerate(countries):
        for j, b in enumerate(countries[i:], start=i):
            rows.append([a, b, "10", str(10.0 + i + j), "1", "1", "99"])
    return RTTMatrix.fromRows(rows)


class LabConfigTests(SynchronousTestCase):
    """
    L{loadLabConfig} reads the shipped and the trimmed configurations and
    rejects bad ones with a L{ConfigError} naming the key.
    """

    def test_default(self) -> None:
        """
        The shipped configuration has 3 LS replicas, 3 sites and a normal
        and a premium mobile node, each with two access networks.
        """
        c = loadLabConfig()
        self.assertEqual((len(c.ls), len(c.sites), len(c.mns)), (3, 3, 2))
        self.assertEqual(c.scenario.dad, DADMode.OPTIMISTIC)
        self.assertEqual(c.mns[0].nodeID, NodeID.fromString("201:4a00:0:2"))
        self.assertEqual(c.levels, {"normal": 2_000_000, "premium": 6_000_000})

    def test_trimmed(self) -> None:
        c = loadLabConfig(TRIMMED)
        self.assertEqual(c.scenario.killLS, "ls1")
        self.assertEqual(c.scenario.stopMA, "site2")
        self.assertEqual(c.scenario.probeAttaches, 1)

    def bad(self, text: str) -> str:
        base = TRIMMED.read_text()
        path = Path(self.mktemp())
        path.parent.mkdir(parents=True, exist_ok=True)
        # Keep the LDIF path valid from the temporary directory.
        base = base.replace(
            'ldif = "../../../etc/subscribers.ldif"',
            f'ldif = "{TRIMMED.parents[3] / "etc" / "subscribers.ldif"}"',
        )
        path.write_text(base + text)
        e = self.assertRaises(ConfigError, loadConfig, str(path), parseLabConfig)
        return str(e)

    def test_unknownAccess(self) -> None:
        """
        A mobile node naming an unknown access network is refused.
        """
        msg = self.bad(
            '[[lab.mn]]\nname = "mn3"\nnode_id = "201:4a00:0:4"\naccess = ["fr-home", "nowhere"]\n'
        )
        self.assertIn("unknown access network 'nowhere'", msg)

    def test_stationaryMN(self) -> None:
        msg = self.bad(
            '[[lab.mn]]\nname = "mn3"\nnode_id = "1:4a00:0:1"\naccess = ["fr-home", "es-cafe"]\n'
        )
        self.assertIn("not a mobile Node ID", msg)

    def test_duplicateName(self) -> None:
        msg = self.bad('[[lab.site]]\nname = "ls1"\ncountry = "DE"\n')
        self.assertIn("'ls1' is used twice", msg)

    def test_badCountry(self) -> None:
        msg = self.bad('[[lab.site]]\nname = "site9"\ncountry = "Germany"\n')
        self.assertIn("two-letter country code", msg)

    def test_unknownKey(self) -> None:
        """
        A misspelt key is an error, not ignored.
        """
        self.assertIn("warmpu", self.bad('warmpu = "1s"\n'))

    def test_missingLDIF(self) -> None:
        root = loadTOMLString('[lab]\nldif = "/nonexistent.ldif"\n[lab.dns]\ncountry = "NL"\n')
        self.assertRaises(ConfigError, parseLabConfig, root)


class PlanTests(SynchronousTestCase):
    """
    L{makePlan} numbers the places and takes delays from the matrix.
    """

    def setUp(self) -> None:
        self.plan = makePlan(loadLabConfig(TRIMMED), _matrix())

    def test_places(self) -> None:
        """
        Every place gets its own /48; sites have a box LAN, each MN its own
        /64 on both of its access networks.
        """
        p = self.plan
        self.assertEqual(p.dns.prefix48, "2001:db8:1::/48")
        self.assertEqual([x.name for x in p.lsPlaces], ["ls1", "ls2"])
        site1 = p.places["site1"]
        self.assertEqual(str(site1.lanPrefix), "2001:db8:4:1::/64")
        self.assertEqual(site1.boxAddress, "2001:db8:4:1::2")
        a, b = p.mnNets["mn2"]
        self.assertEqual((a.place.name, b.place.name), ("ca-home", "mx-hotel"))
        self.assertEqual(str(a.prefix), "2001:db8:8:2::/64")
        self.assertEqual(a.plainAddress, "2001:db8:8:2::100")
        self.assertEqual(p.siteOfBox("2001:db8:4:1::2"), "site1")
        self.assertIsNone(p.siteOfBox("2001:db8:4:1::3"))

    def test_delays(self) -> None:
        """
        The one-way delay is half the matrix RTT between the countries, in
        both orders, and 0 within a place.
        """
        p = self.plan
        # FR is index 3, DE index 1 in the test matrix: RTT 10 + 1 + 3.
        self.assertEqual(p.rtt("fr-home", "site1"), 14.0)
        self.assertEqual(p.oneWay("site1", "fr-home"), 7.0)
        self.assertEqual(p.oneWay("site1", "site1"), 0.0)

    def test_serviceAddress(self) -> None:
        self.assertEqual(str(self.plan.serviceAddress), "3ffe:501:1830:1999:201:4a00:0:100")
        self.assertEqual(str(self.plan.serviceLocator("site2")), "2001:db8:5:1:201:4a00:0:100")

    def test_missingCountry(self) -> None:
        """
        A country pair absent from the matrix is a L{MatrixError}.
        """
        rows = [["cty1", "cty2", "rtt_cnt", "rtt_avg", "rtt_std", "rtt_min", "rtt_max"]]
        self.assertRaises(MatrixError, makePlan, loadLabConfig(TRIMMED), RTTMatrix.fromRows(rows))
