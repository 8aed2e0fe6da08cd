"""
Tests for L{lin6twisted.directory.interfaces}.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from lin6twisted.address import NodeID
from lin6twisted.directory import (
    BadDirectoryEntry,
    DirectoryError,
    DirectoryUnavailable,
    FakeDirectory,
    IDirectory,
    ServiceLevel,
    Subscriber,
)

MN = NodeID.fromString("201:4a00:0:2")


def subscriber(nodeID: NodeID = MN, level: ServiceLevel = ServiceLevel.NORMAL) -> Subscriber:
    return Subscriber(nodeID=nodeID, level=level, keyID=1, key=b"k" * 32, enabled=True)


class ServiceLevelTests(SynchronousTestCase):
    """
    L{ServiceLevel} has fixed wire values and a text form.
    """

    def test_wireValues(self) -> None:
        """
        The wire values are 1 (normal) and 2 (premium).
        """
        self.assertEqual((int(ServiceLevel.NORMAL), int(ServiceLevel.PREMIUM)), (1, 2))
        self.assertIs(ServiceLevel(2), ServiceLevel.PREMIUM)

    def test_text(self) -> None:
        """
        C{fromText} accepts the names in any case; C{text} gives lower case.
        """
        self.assertIs(ServiceLevel.fromText(" Premium "), ServiceLevel.PREMIUM)
        self.assertIs(ServiceLevel.fromText("normal"), ServiceLevel.NORMAL)
        self.assertEqual(ServiceLevel.PREMIUM.text, "premium")

    def test_badText(self) -> None:
        """
        An unknown level is a L{ValueError} naming the choices.
        """
        e = self.assertRaises(ValueError, ServiceLevel.fromText, "gold")
        self.assertIn("normal | premium", str(e))


class SubscriberTests(SynchronousTestCase):
    """
    L{Subscriber} is an immutable value that keeps its key out of C{repr}.
    """

    def test_keyNotInRepr(self) -> None:
        """
        The key is not shown by C{repr}, so it does not end up in logs.
        """
        s = Subscriber(MN, ServiceLevel.NORMAL, 1, b"secret-key-bytes!", True)
        self.assertNotIn("secret", repr(s))

    def test_hashable(self) -> None:
        """
        Equal subscribers are equal and hash alike.
        """
        self.assertEqual({subscriber(), subscriber()}, {subscriber()})


class FakeDirectoryTests(SynchronousTestCase):
    """
    L{FakeDirectory} behaves like a directory for other parts' tests.
    """

    def test_interface(self) -> None:
        """
        It provides L{IDirectory}.
        """
        self.assertTrue(verifyObject(IDirectory, FakeDirectory()))

    def test_lookup(self) -> None:
        """
        Known Node IDs give their subscriber, others C{None}; lookups are
        recorded.
        """
        directory = FakeDirectory([subscriber()])
        self.assertEqual(self.successResultOf(directory.lookup(MN)), subscriber())
        other = NodeID.fromString("201:4a00:0:9")
        self.assertIsNone(self.successResultOf(directory.lookup(other)))
        self.assertEqual(directory.lookups, [MN, other])

    def test_down(self) -> None:
        """
        While down, lookups fail with L{DirectoryUnavailable}.
        """
        directory = FakeDirectory([subscriber()])
        directory.down = True
        self.failureResultOf(directory.lookup(MN), DirectoryUnavailable)
        directory.down = False
        self.assertIsNotNone(self.successResultOf(directory.lookup(MN)))

    def test_bad(self) -> None:
        """
        Node IDs in C{bad} fail with L{BadDirectoryEntry}, a
        L{DirectoryError}.
        """
        directory = FakeDirectory()
        directory.bad.add(MN)
        failure = self.failureResultOf(directory.lookup(MN), BadDirectoryEntry)
        self.assertIsInstance(failure.value, DirectoryError)
