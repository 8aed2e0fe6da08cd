"""
Tests for L{lin6twisted.directory.entry}.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from lin6twisted.address import LIN6Space, NodeID
from lin6twisted.directory import BadDirectoryEntry, ServiceLevel, Subscriber
from lin6twisted.directory.entry import nodeIDFilterText, normalizeAttributes, parseSubscriber

DN = "lin6NodeID=201:4a00:0:2,ou=subscribers,dc=lin6,dc=example"
KEY = "1a72a4d28b76537882cfcb9d04ab3f216e56d2a8c3e7169319db21fb267270c5"


def attributes(**changes: list[str] | None) -> dict[str, list[bytes]]:
    """
    A valid entry's attributes, with some replaced (C{None} removes one).
    """
    base: dict[str, list[str] | None] = {
        "objectClass": ["top", "lin6Subscriber"],
        "lin6NodeID": ["201:4a00:0:2"],
        "lin6ServiceLevel": ["normal"],
        "lin6KeyID": ["1"],
        "lin6Key": [KEY],
        "lin6Enabled": ["TRUE"],
        "cn": ["mn-normal"],
    }
    base.update(changes)
    return dict(normalizeAttributes((k, v) for k, v in base.items() if v is not None))


class NormalizeTests(SynchronousTestCase):
    """
    L{normalizeAttributes} gives lower-case names and byte values.
    """

    def test_mixed(self) -> None:
        """
        Byte and text names and values are accepted; repeated names merge.
        """
        result = normalizeAttributes(
            [(b"LIN6NodeID", [b"1:4a00:0:1"]), ("cn", ["a"]), ("CN", [b"b"])]
        )
        self.assertEqual(result, {"lin6nodeid": [b"1:4a00:0:1"], "cn": [b"a", b"b"]})


class ParseSubscriberTests(SynchronousTestCase):
    """
    L{parseSubscriber} builds a L{Subscriber} from a valid entry and refuses
    every broken rule with a L{BadDirectoryEntry} naming the entry and the
    attribute.
    """

    def test_valid(self) -> None:
        """
        A valid entry gives its subscriber.
        """
        self.assertEqual(
            parseSubscriber(DN, attributes()),
            Subscriber(
                nodeID=NodeID.fromString("201:4a00:0:2"),
                level=ServiceLevel.NORMAL,
                keyID=1,
                key=bytes.fromhex(KEY),
                enabled=True,
                name="mn-normal",
            ),
        )

    def test_variants(self) -> None:
        """
        Premium, disabled, other Node ID spellings, upper-case hex and the
        largest key id are accepted; C{cn} is optional.
        """
        s = parseSubscriber(
            DN,
            attributes(
                lin6ServiceLevel=["PREMIUM"],
                lin6Enabled=["FALSE"],
                lin6NodeID=["02:01:4a:00:00:00:00:02"],
                lin6Key=[KEY.upper()],
                lin6KeyID=["4294967295"],
                cn=None,
            ),
        )
        self.assertEqual(
            (s.level, s.enabled, str(s.nodeID), s.key, s.keyID, s.name),
            (ServiceLevel.PREMIUM, False, "201:4a00:0:2", bytes.fromhex(KEY), 2**32 - 1, ""),
        )

    def assertRefused(self, fragment: str, **changes: list[str] | None) -> None:
        e = self.assertRaises(BadDirectoryEntry, parseSubscriber, DN, attributes(**changes))
        self.assertIn(DN, str(e))
        self.assertIn(fragment, str(e))

    def test_notASubscriber(self) -> None:
        """
        An entry without the object class is refused.
        """
        self.assertRefused("is not a lin6Subscriber", objectClass=["person"])

    def test_missing(self) -> None:
        """
        Every required attribute must be present.
        """
        for name in ("lin6NodeID", "lin6ServiceLevel", "lin6KeyID", "lin6Key", "lin6Enabled"):
            self.assertRefused(f"{name} is missing", **{name: None})

    def test_multiValued(self) -> None:
        """
        Single-valued attributes with two values are refused.
        """
        self.assertRefused("must have one value, has 2", lin6ServiceLevel=["normal", "premium"])

    def test_badNodeID(self) -> None:
        """
        A Node ID that does not parse, or lacks the OUI, is refused.
        """
        self.assertRefused("bad lin6NodeID", lin6NodeID=["201:4a00:0"])
        self.assertRefused("bad lin6NodeID", lin6NodeID=["not-a-node"])
        self.assertRefused("OUI", lin6NodeID=["200:5e00:0:2"])

    def test_otherSpace(self) -> None:
        """
        The OUI comes from the deployment's space.
        """
        space = LIN6Space.fromStrings("3ffe:501:1830:1999::/64", "00:00:5e")
        e = self.assertRaises(BadDirectoryEntry, parseSubscriber, DN, attributes(), space)
        self.assertIn("00:00:5e", str(e))
        s = parseSubscriber(DN, attributes(lin6NodeID=["200:5e00:0:2"]), space)
        self.assertEqual(str(s.nodeID), "200:5e00:0:2")

    def test_unexpectedNodeID(self) -> None:
        """
        An entry carrying another Node ID than the one looked up is refused.
        """
        e = self.assertRaises(
            BadDirectoryEntry,
            parseSubscriber,
            DN,
            attributes(),
            expected=NodeID.fromString("201:4a00:0:3"),
        )
        self.assertIn("not the Node ID looked up", str(e))

    def test_badLevel(self) -> None:
        """
        Only normal and premium are levels.
        """
        self.assertRefused("bad lin6ServiceLevel", lin6ServiceLevel=["gold"])

    def test_badKeyID(self) -> None:
        """
        The key id is an unsigned 32-bit decimal.
        """
        for bad in ("-1", "x", "4294967296", "1.5", ""):
            self.assertRefused("bad lin6KeyID", lin6KeyID=[bad])

    def test_badKey(self) -> None:
        """
        The key is 16 to 64 bytes of hex; the message does not show it.
        """
        self.assertRefused("even number of hex digits", lin6Key=["xyz" + KEY])
        self.assertRefused("even number of hex digits", lin6Key=[KEY[:-1]])
        self.assertRefused("15 bytes", lin6Key=["ab" * 15])
        self.assertRefused("65 bytes", lin6Key=["ab" * 65])
        e = self.assertRaises(
            BadDirectoryEntry, parseSubscriber, DN, attributes(lin6Key=[KEY + "zz"])
        )
        self.assertNotIn(KEY, str(e))

    def test_boundaryKeys(self) -> None:
        """
        Keys of exactly 16 and 64 bytes are accepted.
        """
        for size in (16, 64):
            s = parseSubscriber(DN, attributes(lin6Key=["cd" * size]))
            self.assertEqual(len(s.key), size)

    def test_badEnabled(self) -> None:
        """
        C{lin6Enabled} is exactly C{TRUE} or C{FALSE} (LDAP Boolean syntax).
        """
        for bad in ("true", "yes", "1", ""):
            self.assertRefused("bad lin6Enabled", lin6Enabled=[bad])

    def test_notASCII(self) -> None:
        """
        Non-ASCII values are refused.
        """
        entry = attributes()
        entry["lin6servicelevel"] = ["prémium".encode()]
        e = self.assertRaises(BadDirectoryEntry, parseSubscriber, DN, entry)
        self.assertIn("not ASCII", str(e))


class FilterTests(SynchronousTestCase):
    """
    L{nodeIDFilterText} finds an entry by any accepted spelling.
    """

    def test_filter(self) -> None:
        """
        The filter names the object class and the three spellings.
        """
        self.assertEqual(
            nodeIDFilterText(NodeID.fromString("201:4a00:0:2")),
            "(&(objectClass=lin6Subscriber)(|(lin6NodeID=201:4a00:0:2)"
            "(lin6NodeID=02:01:4a:00:00:00:00:02)(lin6NodeID=02014a0000000002)))",
        )
