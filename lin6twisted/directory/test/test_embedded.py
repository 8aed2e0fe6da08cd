"""
Tests for L{lin6twisted.directory.embedded}.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ldaptor.protocols import pureber, pureldap
from ldaptor.protocols.ldap import ldaperrors
from ldaptor.protocols.ldap.ldapclient import LDAPClient
from twisted.internet.defer import Deferred
from twisted.internet.testing import EventLoggingObserver
from twisted.logger import globalLogPublisher
from twisted.test import iosim
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from lin6twisted.address import NodeID
from lin6twisted.directory import BadDirectoryEntry, IDirectory, ServiceLevel
from lin6twisted.directory.embedded import (
    DirectoryServerFactory,
    EmbeddedDirectory,
    LDIFLoadError,
    loadLDIF,
)
from lin6twisted.directory.testing import (
    SAMPLE_COUNT,
    SAMPLE_CS1,
    SAMPLE_CS2,
    SAMPLE_DISABLED,
    SAMPLE_LDIF,
    SAMPLE_NORMAL,
    SAMPLE_PREMIUM,
    SAMPLE_READER_DN,
    SAMPLE_READER_PASSWORD,
    SAMPLE_SERVICE,
)

HEADER = """\
dn: dc=lin6,dc=example
objectClass: dcObject
objectClass: organization
dc: lin6
o: test

dn: ou=subscribers,dc=lin6,dc=example
objectClass: organizationalUnit
ou: subscribers
"""

KEY = "ab" * 32


def subscriberLDIF(
    nodeID: str,
    level: str = "normal",
    enabled: str = "TRUE",
    key: str = KEY,
    keyID: str = "1",
    rdn: str | None = None,
) -> str:
    rdn = rdn or f"lin6NodeID={nodeID}"
    return f"""
dn: {rdn},ou=subscribers,dc=lin6,dc=example
objectClass: lin6Subscriber
lin6NodeID: {nodeID}
lin6ServiceLevel: {level}
lin6KeyID: {keyID}
lin6Key: {key}
lin6Enabled: {enabled}
"""


class LoadLDIFTests(SynchronousTestCase):
    """
    L{loadLDIF} reads LDIF into an in-memory tree, tolerates common layout
    variations and reports errors with the file and line.
    """

    def write(self, text: str | bytes) -> Path:
        path = Path(self.mktemp())
        path.write_bytes(text.encode() if isinstance(text, str) else text)
        return path

    def test_sample(self) -> None:
        """
        The sample file loads; its first entry is the root.
        """
        root = loadLDIF(SAMPLE_LDIF)
        self.assertEqual(root.dn.getText(), "dc=lin6,dc=example")

    def test_layouts(self) -> None:
        """
        Blank lines after leading comments, CRLF line ends, a missing final
        blank line and a missing final newline are all accepted.
        """
        body = HEADER + subscriberLDIF("201:4a00:0:2")
        variants = [
            "# comment\n\n\n" + body,
            body.replace("\n", "\r\n"),
            body.rstrip("\n") + "\n",
            body.rstrip("\n"),
            "version: 1\n\n" + body + "\n\n\n",
        ]
        for text in variants:
            directory = EmbeddedDirectory(loadLDIF(self.write(text)))
            self.assertEqual(len(directory), 1, repr(text[:40]))

    def test_base64AndContinuation(self) -> None:
        """
        Base64 values (C{attr:: ...}) and folded lines are decoded.
        """
        text = HEADER + subscriberLDIF("201:4a00:0:2").replace(
            "lin6ServiceLevel: normal", "lin6ServiceLevel:: cHJlbWl1bQ=="
        ).replace(f"lin6Key: {KEY}", f"lin6Key: {KEY[:20]}\n {KEY[20:]}")
        directory = EmbeddedDirectory(loadLDIF(self.write(text)))
        s = self.successResultOf(directory.lookup(SAMPLE_NORMAL))
        assert s is not None
        self.assertEqual((s.level, s.key), (ServiceLevel.PREMIUM, bytes.fromhex(KEY)))

    def assertLoadError(self, text: str | bytes, *fragments: str) -> None:
        path = self.write(text)
        e = self.assertRaises(LDIFLoadError, loadLDIF, path)
        self.assertIn(str(path), str(e))
        for fragment in fragments:
            self.assertIn(fragment, str(e))

    def test_missingFile(self) -> None:
        """
        A missing file is an L{LDIFLoadError}.
        """
        e = self.assertRaises(LDIFLoadError, loadLDIF, "/nonexistent/l6dir.ldif")
        self.assertIn("cannot read", str(e))

    def test_empty(self) -> None:
        """
        A file without entries is refused.
        """
        self.assertLoadError("# nothing\n\n", "no entries")

    def test_lineWithoutColon(self) -> None:
        """
        A malformed line is reported with its line number.
        """
        self.assertLoadError(HEADER + "\ndn: cn=x,dc=lin6,dc=example\ngarbage\n", "line 12")

    def test_orphan(self) -> None:
        """
        An entry whose parent is not in the file is refused, naming it.
        """
        self.assertLoadError(
            HEADER + "\ndn: cn=x,ou=elsewhere,dc=lin6,dc=example\ncn: x\n",
            "cn=x,ou=elsewhere,dc=lin6,dc=example",
            "no parent",
        )

    def test_duplicateDN(self) -> None:
        """
        The same DN twice is refused.
        """
        body = subscriberLDIF("201:4a00:0:2")
        self.assertLoadError(HEADER + body + body, "lin6NodeID=201:4a00:0:2")

    def test_urlValue(self) -> None:
        """
        URL values are not supported and say so.
        """
        self.assertLoadError(HEADER + "\ndn: cn=x,dc=lin6,dc=example\ncn:< file:///x\n", "URL")

    def test_badBase64(self) -> None:
        """
        Bad base64 is an L{LDIFLoadError}.
        """
        self.assertLoadError(HEADER + "\ndn: cn=x,dc=lin6,dc=example\ncn:: YQ\n", "line 12")


class EmbeddedDirectoryTests(SynchronousTestCase):
    """
    L{EmbeddedDirectory} answers lookups from the loaded tree.
    """

    def setUp(self) -> None:
        self.observer = EventLoggingObserver()
        globalLogPublisher.addObserver(self.observer)
        self.addCleanup(globalLogPublisher.removeObserver, self.observer)

    def load(self, text: str) -> EmbeddedDirectory:
        path = Path(self.mktemp())
        path.write_text(text)
        return EmbeddedDirectory.fromLDIF(path)

    def test_interface(self) -> None:
        """
        It provides L{IDirectory}.
        """
        self.assertTrue(verifyObject(IDirectory, EmbeddedDirectory.fromLDIF(SAMPLE_LDIF)))

    def test_sample(self) -> None:
        """
        The sample holds two stationary content servers, three mobile
        nodes (normal, premium, disabled) and the content servers' shared
        service Node ID, each with a key.
        """
        directory = EmbeddedDirectory.fromLDIF(SAMPLE_LDIF)
        found = {}
        everyone = (SAMPLE_CS1, SAMPLE_CS2, SAMPLE_NORMAL, SAMPLE_PREMIUM, SAMPLE_DISABLED,
                    SAMPLE_SERVICE)  # fmt: skip
        for nodeID in everyone:
            s = self.successResultOf(directory.lookup(nodeID))
            assert s is not None
            self.assertEqual(s.nodeID, nodeID)
            self.assertEqual(len(s.key), 32)
            found[nodeID] = (s.nodeID.isMobile, s.level, s.enabled)
        self.assertEqual(
            found,
            {
                SAMPLE_CS1: (False, ServiceLevel.PREMIUM, True),
                SAMPLE_CS2: (False, ServiceLevel.PREMIUM, True),
                SAMPLE_NORMAL: (True, ServiceLevel.NORMAL, True),
                SAMPLE_PREMIUM: (True, ServiceLevel.PREMIUM, True),
                SAMPLE_DISABLED: (True, ServiceLevel.NORMAL, False),
                SAMPLE_SERVICE: (True, ServiceLevel.PREMIUM, True),
            },
        )
        self.assertEqual(len(directory), SAMPLE_COUNT)

    def test_unknown(self) -> None:
        """
        An unknown Node ID gives C{None}.
        """
        directory = EmbeddedDirectory.fromLDIF(SAMPLE_LDIF)
        self.assertIsNone(self.successResultOf(directory.lookup(NodeID(0x02014A0000000999))))

    def test_badEntriesRefusedOthersServed(self) -> None:
        """
        A malformed entry fails its lookups with L{BadDirectoryEntry} and is
        logged; the other entries are served.
        """
        directory = self.load(
            HEADER
            + subscriberLDIF("201:4a00:0:2")
            + subscriberLDIF("201:4a00:0:3", level="gold")
            + subscriberLDIF("201:4a00:0:5", key="abc")
        )
        self.assertIsNotNone(self.successResultOf(directory.lookup(SAMPLE_NORMAL)))
        f = self.failureResultOf(directory.lookup(SAMPLE_PREMIUM), BadDirectoryEntry)
        self.assertIn("gold", str(f.value))
        f = self.failureResultOf(
            directory.lookup(NodeID.fromString("201:4a00:0:5")), BadDirectoryEntry
        )
        self.assertIn("lin6Key", str(f.value))
        messages = [e["log_format"] for e in self.observer]
        self.assertIn("Directory entry refused: {reason}", messages)

    def test_unreachableEntry(self) -> None:
        """
        An entry whose Node ID cannot be read is logged and listed in
        C{unreachable}.
        """
        directory = self.load(
            HEADER + subscriberLDIF("201:4a00:0:2") + subscriberLDIF("bogus", rdn="cn=bogus")
        )
        self.assertEqual(len(directory.unreachable), 1)
        self.assertIn("cn=bogus", str(directory.unreachable[0]))
        self.assertEqual(len(directory), 1)

    def test_duplicateNodeID(self) -> None:
        """
        Two entries with the same Node ID make it a L{BadDirectoryEntry}
        naming both.
        """
        directory = self.load(
            HEADER
            + subscriberLDIF("201:4a00:0:2")
            + subscriberLDIF("02:01:4a:00:00:00:00:02", rdn="cn=again")
        )
        f = self.failureResultOf(directory.lookup(SAMPLE_NORMAL), BadDirectoryEntry)
        self.assertIn("2 entries", str(f.value))
        self.assertIn("cn=again", str(f.value))

    def test_reload(self) -> None:
        """
        C{reload} switches to the file's new content; a file that no longer
        loads is logged and the current entries stay.
        """
        path = Path(self.mktemp())
        path.write_text(HEADER + subscriberLDIF("201:4a00:0:2"))
        directory = EmbeddedDirectory.fromLDIF(path)
        path.write_text(HEADER + subscriberLDIF("201:4a00:0:3", level="premium"))
        self.assertTrue(directory.reload())
        self.assertIsNone(self.successResultOf(directory.lookup(SAMPLE_NORMAL)))
        s = self.successResultOf(directory.lookup(SAMPLE_PREMIUM))
        assert s is not None
        self.assertEqual(s.level, ServiceLevel.PREMIUM)
        self.assertEqual(directory.root.dn.getText(), "dc=lin6,dc=example")
        path.write_text("garbage\n")
        self.assertFalse(directory.reload())
        self.assertIsNotNone(self.successResultOf(directory.lookup(SAMPLE_PREMIUM)))
        self.assertIn(
            "Directory not reloaded, keeping the current entries: {reason}",
            [e["log_format"] for e in self.observer],
        )

    def test_reloadWithoutFile(self) -> None:
        """
        A directory built from a tree has nothing to reload.
        """
        directory = EmbeddedDirectory(loadLDIF(SAMPLE_LDIF))
        self.assertRaises(ValueError, directory.reload)

    def test_otherEntriesIgnored(self) -> None:
        """
        Entries of other classes (accounts, units) are not subscribers.
        """
        directory = EmbeddedDirectory.fromLDIF(SAMPLE_LDIF)
        self.assertEqual(len(directory.entries()), SAMPLE_COUNT)
        self.assertEqual(directory.unreachable, [])


def search(
    client: LDAPClient,
    base: str,
    filterText: str,
    attributes: Any = (),
    scope: int = pureldap.LDAP_SCOPE_wholeSubtree,
    sizeLimit: int = 0,
) -> Deferred[Any]:
    from ldaptor import ldapfilter

    request = pureldap.LDAPSearchRequest(
        baseObject=base,
        scope=scope,
        derefAliases=0,
        sizeLimit=sizeLimit,
        timeLimit=0,
        typesOnly=0,
        filter=ldapfilter.parseFilter(filterText),
        attributes=list(attributes),
    )
    entries: list[Any] = []
    done: Deferred[Any] = Deferred()

    def handler(response: Any) -> bool:
        if isinstance(response, pureldap.LDAPSearchResultEntry):
            entries.append(response)
            return False
        done.callback((response.resultCode, entries))
        return True

    client.send_multiResponse(request, handler)
    return done


def _t(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class _WalkingFactory(DirectoryServerFactory):
    """
    A server factory that never uses its index (the reference behaviour).
    """

    def candidates(self, filterObject: Any) -> list[Any] | None:
        return None


class ServerTests(SynchronousTestCase):
    """
    L{DirectoryServerFactory} serves the tree over LDAP, read-only.
    """

    def connect(
        self, requireBind: bool = False, factory: DirectoryServerFactory | None = None
    ) -> tuple[LDAPClient, iosim.IOPump]:
        if factory is None:
            factory = DirectoryServerFactory(loadLDIF(SAMPLE_LDIF), requireBind=requireBind)
        client, _server, pump = iosim.connectedServerAndClient(
            lambda: factory.buildProtocol(None), LDAPClient, greet=False
        )
        return client, pump

    def test_search(self) -> None:
        """
        A search by Node ID finds the entry.
        """
        client, pump = self.connect()
        d = search(client, "ou=subscribers,dc=lin6,dc=example", "(lin6NodeID=201:4a00:0:3)")
        pump.flush()
        code, entries = self.successResultOf(d)
        self.assertEqual(code, 0)
        self.assertEqual(
            [e.objectName for e in entries],
            [b"lin6NodeID=201:4a00:0:3,ou=subscribers,dc=lin6,dc=example"],
        )

    def searchBoth(
        self, base: str, filterText: str, scope: int = 2, sizeLimit: int = 0
    ) -> tuple[Any, Any]:
        """
        Run a search with the index and with the tree walk; return both
        (result code, sorted DNs).
        """
        results = []
        for indexed in (True, False):
            kind = DirectoryServerFactory if indexed else _WalkingFactory
            factory = kind(loadLDIF(SAMPLE_LDIF))
            client, pump = self.connect(factory=factory)
            d = search(client, base, filterText, scope=scope, sizeLimit=sizeLimit)
            pump.flush()
            code, entries = self.successResultOf(d)
            results.append((code, sorted(e.objectName for e in entries)))
        return results[0], results[1]

    def test_indexedSameAsWalk(self) -> None:
        """
        Searches answered from the C{lin6NodeID} index give what walking
        the tree gives, for every scope and filter shape.
        """
        sub = "ou=subscribers,dc=lin6,dc=example"
        cases = [
            (sub, "(lin6NodeID=201:4a00:0:3)", 2),
            (sub, "(lin6NodeID=201:4A00:0:3)", 2),
            ("dc=lin6,dc=example", "(lin6NodeID=1:4a00:0:1)", 2),
            (sub, "(lin6NodeID=1:4a00:0:1)", 1),
            ("dc=lin6,dc=example", "(lin6NodeID=1:4a00:0:1)", 1),
            ("lin6NodeID=1:4a00:0:1," + sub, "(lin6NodeID=1:4a00:0:1)", 0),
            (sub, "(lin6NodeID=1:4a00:0:1)", 0),
            (sub, "(&(objectClass=lin6Subscriber)(lin6NodeID=201:4a00:0:2))", 2),
            (sub, "(&(lin6ServiceLevel=premium)(lin6NodeID=201:4a00:0:2))", 2),
            (sub, "(|(lin6NodeID=201:4a00:0:2)(lin6NodeID=201:4a00:0:4))", 2),
            (sub, "(|(lin6NodeID=201:4a00:0:2)(cn=mn-premium))", 2),
            (sub, "(lin6NodeID=201:4a00:0:99)", 2),
            ("ou=elsewhere,dc=lin6,dc=example", "(lin6NodeID=201:4a00:0:2)", 2),
        ]
        for base, filterText, scope in cases:
            indexed, walked = self.searchBoth(base, filterText, scope)
            self.assertEqual(indexed, walked, (base, filterText, scope))
        indexed, _ = self.searchBoth(sub, "(lin6NodeID=201:4a00:0:3)")
        self.assertEqual(len(indexed[1]), 1)

    def test_indexedSizeLimit(self) -> None:
        """
        The index honours the size limit.
        """
        indexed, _ = self.searchBoth(
            "dc=lin6,dc=example",
            "(|(lin6NodeID=201:4a00:0:2)(lin6NodeID=201:4a00:0:4))",
            sizeLimit=1,
        )
        self.assertEqual(indexed[0], ldaperrors.LDAPSizeLimitExceeded.resultCode)
        self.assertEqual(len(indexed[1]), 1)

    def test_indexFollowsRoot(self) -> None:
        """
        Setting a new root (a reload) rebuilds the index.
        """
        factory = DirectoryServerFactory(loadLDIF(SAMPLE_LDIF))
        path = Path(self.mktemp())
        path.write_text(HEADER + subscriberLDIF("201:4a00:0:77"))
        factory.root = loadLDIF(path)
        client, pump = self.connect(factory=factory)
        d = search(client, "dc=lin6,dc=example", "(lin6NodeID=201:4a00:0:77)")
        pump.flush()
        self.assertEqual(len(self.successResultOf(d)[1]), 1)
        d = search(client, "dc=lin6,dc=example", "(lin6NodeID=201:4a00:0:3)")
        pump.flush()
        self.assertEqual(self.successResultOf(d)[1], [])

    def test_userPasswordHidden(self) -> None:
        """
        C{userPassword} values are never returned.
        """
        client, pump = self.connect()
        d = search(client, "dc=lin6,dc=example", "(cn=lin6-reader)")
        pump.flush()
        _code, entries = self.successResultOf(d)
        names = {a[0].lower() for a in entries[0].attributes}
        self.assertIn(b"cn", names)
        self.assertNotIn(b"userpassword", names)

    def test_userPasswordNotMatched(self) -> None:
        """
        A filter on C{userPassword} never reveals anything about its value:
        every test of it is false, whatever the value (and its negation
        true), so substring probes cannot recover the hash.
        """
        for filterText, count in (
            ("(userPassword={SSHA}*)", 0),
            ("(userPassword=*)", 0),
            ("(&(cn=lin6-reader)(userPassword>=a))", 0),
            ("(|(cn=nobody)(userPassword={SSHA}d*))", 0),
            ("(&(cn=lin6-reader)(!(userPassword=x*)))", 1),
        ):
            for indexed in (True, False):
                kind = DirectoryServerFactory if indexed else _WalkingFactory
                client, pump = self.connect(factory=kind(loadLDIF(SAMPLE_LDIF)))
                d = search(client, "dc=lin6,dc=example", filterText)
                pump.flush()
                code, entries = self.successResultOf(d)
                self.assertEqual((code, len(entries)), (0, count), (filterText, indexed))

    def test_badRequestsClear(self) -> None:
        """
        A malformed base DN is invalidDNSyntax and approximate or extensible
        matches are unwillingToPerform, with a sentence (not an internal
        error and a logged traceback).
        """
        client, pump = self.connect()
        d = search(client, "notadn", "(objectClass=*)")
        pump.flush()
        self.assertEqual(self.successResultOf(d)[0], ldaperrors.LDAPInvalidDNSyntax.resultCode)
        for filterText in ("(lin6ServiceLevel~=premium)", "(&(cn=x)(cn:caseExactMatch:=x))"):
            d = search(client, "dc=lin6,dc=example", filterText)
            pump.flush()
            code, _ = self.successResultOf(d)
            self.assertEqual(code, ldaperrors.LDAPUnwillingToPerform.resultCode, filterText)
        self.assertEqual(self.flushLoggedErrors(), [])

    def test_walkSizeLimit(self) -> None:
        """
        A search the index cannot answer also stops at the size limit,
        with sizeLimitExceeded.
        """
        _, walked = self.searchBoth("ou=subscribers,dc=lin6,dc=example", "(cn=*)", sizeLimit=2)
        self.assertEqual(walked[0], ldaperrors.LDAPSizeLimitExceeded.resultCode)
        self.assertEqual(len(walked[1]), 2)

    def test_rootDSE(self) -> None:
        """
        The root DSE answers the usual query, C{(objectclass=*)} in any
        case, and advertises no extended operation.
        """
        client, pump = self.connect(requireBind=True)
        d = search(client, "", "(objectclass=*)", scope=pureldap.LDAP_SCOPE_baseObject)
        pump.flush()
        code, [entry] = self.successResultOf(d)
        self.assertEqual(code, 0)
        names = {_t(a[0]).lower() for a in entry.attributes}
        self.assertEqual(names, {"supportedldapversion", "namingcontexts"})

    def test_writesRefused(self) -> None:
        """
        Adds, deletes and modifies are refused with unwillingToPerform.
        """
        client, pump = self.connect()
        requests = [
            pureldap.LDAPAddRequest(
                entry="cn=x,dc=lin6,dc=example",
                attributes=[
                    (
                        pureldap.LDAPAttributeDescription("cn"),
                        pureber.BERSet([pureldap.LDAPAttributeValue("x")]),
                    )
                ],
            ),
            pureldap.LDAPDelRequest(
                entry="lin6NodeID=201:4a00:0:3,ou=subscribers,dc=lin6,dc=example"
            ),
        ]
        results = [client.send(r) for r in requests]
        pump.flush()
        for d in results:
            self.assertEqual(
                self.successResultOf(d).resultCode, ldaperrors.LDAPUnwillingToPerform.resultCode
            )
        d = search(client, "ou=subscribers,dc=lin6,dc=example", "(lin6NodeID=201:4a00:0:3)")
        pump.flush()
        self.assertEqual(len(self.successResultOf(d)[1]), 1)

    def test_compare(self) -> None:
        """
        Compare works on ordinary attributes but never on C{userPassword}.
        """
        client, pump = self.connect()
        level = client.send(
            pureldap.LDAPCompareRequest(
                entry="lin6NodeID=201:4a00:0:3,ou=subscribers,dc=lin6,dc=example",
                ava=pureldap.LDAPAttributeValueAssertion(
                    pureber.BEROctetString("lin6ServiceLevel"), pureber.BEROctetString("premium")
                ),
            )
        )
        password = client.send(
            pureldap.LDAPCompareRequest(
                entry=SAMPLE_READER_DN,
                ava=pureldap.LDAPAttributeValueAssertion(
                    pureber.BEROctetString("userPassword"),
                    pureber.BEROctetString("{SSHA}dHmhcphUN9BZDwCELAJzmSqgwzBiwQVe"),
                ),
            )
        )
        pump.flush()
        self.assertEqual(
            self.successResultOf(level).resultCode, ldaperrors.LDAPCompareTrue.resultCode
        )
        self.assertEqual(
            self.successResultOf(password).resultCode,
            ldaperrors.LDAPInsufficientAccessRights.resultCode,
        )

    def test_requireBind(self) -> None:
        """
        With C{requireBind}, searches fail until a bind succeeds; a wrong
        password is refused.
        """
        client, pump = self.connect(requireBind=True)
        base = "ou=subscribers,dc=lin6,dc=example"
        d = search(client, base, "(lin6NodeID=201:4a00:0:3)")
        pump.flush()
        self.assertEqual(
            self.successResultOf(d)[0], ldaperrors.LDAPInsufficientAccessRights.resultCode
        )
        bad = client.send(pureldap.LDAPBindRequest(dn=SAMPLE_READER_DN, auth=b"wrong"))
        pump.flush()
        self.assertEqual(
            self.successResultOf(bad).resultCode, ldaperrors.LDAPInvalidCredentials.resultCode
        )
        good = client.send(
            pureldap.LDAPBindRequest(dn=SAMPLE_READER_DN, auth=SAMPLE_READER_PASSWORD)
        )
        pump.flush()
        self.assertEqual(self.successResultOf(good).resultCode, 0)
        d = search(client, base, "(lin6NodeID=201:4a00:0:3)")
        pump.flush()
        self.assertEqual(len(self.successResultOf(d)[1]), 1)
