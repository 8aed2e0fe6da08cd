"""
Property tests: whatever an LDAP server or an LDIF file holds, the
directory answers with a subscriber or a typed error, never anything else.
"""

from __future__ import annotations

from pathlib import Path
from tempfile import TemporaryDirectory

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from lin6twisted.directory import BadDirectoryEntry, Subscriber
from lin6twisted.directory.embedded import EmbeddedDirectory, LDIFLoadError, loadLDIF
from lin6twisted.directory.entry import normalizeAttributes, parseSubscriber
from lin6twisted.directory.test.test_embedded import HEADER, subscriberLDIF

NAMES = ["objectClass", "lin6NodeID", "lin6ServiceLevel", "lin6KeyID", "lin6Key", "lin6Enabled"]
GOOD = {
    "objectClass": [b"lin6Subscriber"],
    "lin6NodeID": [b"201:4a00:0:2"],
    "lin6ServiceLevel": [b"premium"],
    "lin6KeyID": [b"9"],
    "lin6Key": [b"ab" * 16],
    "lin6Enabled": [b"TRUE"],
}

values = st.one_of(
    st.binary(max_size=80),
    st.sampled_from([b"", b" ", b"TRUE", b"normal", b"201:4a00:0:2", b"ab" * 16, b"\xff"]),
    st.text(max_size=40).map(str.encode),
)
attributeMaps = st.fixed_dictionaries(
    {},
    optional={name: st.lists(values, max_size=3) for name in NAMES},
)


class EntryProperties(SynchronousTestCase):
    """
    L{parseSubscriber} never fails with anything but L{BadDirectoryEntry}.
    """

    @settings(max_examples=400, deadline=None)
    @given(attributeMaps)
    def test_arbitraryEntries(self, attributes: dict[str, list[bytes]]) -> None:
        """
        Arbitrary attribute values give a subscriber or L{BadDirectoryEntry}.
        """
        try:
            result = parseSubscriber("cn=x", normalizeAttributes(attributes.items()))
        except BadDirectoryEntry:
            return
        self.assertIsInstance(result, Subscriber)

    @settings(max_examples=300, deadline=None)
    @given(st.sampled_from(NAMES), st.lists(values, max_size=3))
    def test_oneBadAttribute(self, name: str, replacement: list[bytes]) -> None:
        """
        Changing one attribute of a valid entry gives a subscriber or
        L{BadDirectoryEntry}; a subscriber always has a valid key.
        """
        attributes = {**GOOD, name: replacement}
        try:
            result = parseSubscriber("cn=x", normalizeAttributes(attributes.items()))
        except BadDirectoryEntry:
            return
        self.assertTrue(16 <= len(result.key) <= 64)


class LDIFProperties(SynchronousTestCase):
    """
    Loading arbitrary LDIF gives a tree or L{LDIFLoadError}, never another
    exception.
    """

    @settings(max_examples=300, deadline=None)
    @given(
        st.one_of(
            st.binary(max_size=300),
            st.text(alphabet=":\n -=a,dc#:<1\r", max_size=200).map(str.encode),
            st.tuples(st.integers(0, 400), st.binary(max_size=20)).map(
                lambda cut: (HEADER + subscriberLDIF("201:4a00:0:2")).encode()[: cut[0]] + cut[1]
            ),
        )
    )
    def test_arbitraryFiles(self, data: bytes) -> None:
        """
        Truncated, corrupted or random files load or raise L{LDIFLoadError};
        what loads indexes without error.
        """
        with TemporaryDirectory(prefix="l6dir-prop-") as tmp:
            path = Path(tmp) / "x.ldif"
            path.write_bytes(data)
            try:
                root = loadLDIF(path)
            except LDIFLoadError:
                return
            EmbeddedDirectory(root)
