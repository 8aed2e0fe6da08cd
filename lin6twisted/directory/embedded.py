# -*- test-case-name: lin6twisted.directory.test.test_embedded -*-
"""
The embedded directory: ldaptor's in-memory LDAP tree loaded from LDIF.

L{loadLDIF} reads an LDIF file into an ldaptor in-memory tree (more
tolerant than C{ldaptor.inmemory.fromLDIFFile}: blank lines after the
header comments, CRLF line ends and a missing final blank line are
accepted; errors name the file and line).  L{EmbeddedDirectory} answers
lookups in-process from an index of that tree built at load time.

L{DirectoryServerFactory} serves the same tree over LDAP, read-only, so
several daemons can share one embedded directory (C{lin6 directory serve}).
"""

from __future__ import annotations

import binascii
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from ldaptor import interfaces as ldapinterfaces
from ldaptor.inmemory import InMemoryLDIFProtocol, ReadOnlyInMemoryLDAPEntry
from ldaptor.protocols import pureldap
from ldaptor.protocols.ldap import ldaperrors
from ldaptor.protocols.ldap.distinguishedname import (
    DistinguishedName,
    InvalidRelativeDistinguishedName,
)
from ldaptor.protocols.ldap.ldapserver import LDAPServer
from ldaptor.protocols.ldap.ldifprotocol import HEADER, IN_ENTRY, WAIT_FOR_DN, LDIFParseError
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.error import ConnectionDone
from twisted.internet.protocol import ServerFactory
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from lin6twisted.address import DEFAULT_SPACE, AddressError, LIN6Space, NodeID
from lin6twisted.directory.entry import OBJECT_CLASS, normalizeAttributes, parseSubscriber
from lin6twisted.directory.interfaces import (
    BadDirectoryEntry,
    DirectoryError,
    IDirectory,
    Subscriber,
)

__all__ = [
    "DirectoryServerFactory",
    "EmbeddedDirectory",
    "LDIFLoadError",
    "ReadOnlyLDAPServer",
    "loadLDIF",
]

log = Logger()


class LDIFLoadError(DirectoryError):
    """
    An LDIF file cannot be read or loaded; the message names the file, the
    line (when known) and the problem.
    """


class _LDIFLoader(InMemoryLDIFProtocol):  # type: ignore[misc]
    """
    ldaptor's in-memory LDIF loader, made tolerant of common file layouts
    and counting lines for error messages.
    """

    def __init__(self) -> None:
        super().__init__()
        self.lineNumber = 0
        self._physical = 0
        self._pendingStart = 1
        self.problem: str | None = None

    def lineReceived(self, line: bytes) -> None:
        self._physical += 1
        line = line.rstrip(b"\r")
        if not line.startswith(b" "):
            # The parent now parses the logical line pending so far, which
            # began at _pendingStart; errors are reported there.
            self.lineNumber = self._pendingStart
            self._pendingStart = self._physical
        super().lineReceived(line)

    def state_HEADER(self, line: bytes) -> None:
        if line.strip() == b"":
            # Blank lines between the leading comments and the first entry.
            return
        super().state_HEADER(line)

    def lookupFailed(self, reason: Failure, entry: Any) -> Failure:
        if self.problem is None:
            self.problem = (
                f"entry {entry.dn.getText()!r} has no parent entry in the file "
                "(entries must come after their parents, and the first entry is the root)"
            )
        return reason

    def addFailed(self, reason: Failure, entry: Any) -> Failure:
        if self.problem is None:
            if isinstance(reason.value, ldaperrors.LDAPEntryAlreadyExists):
                why = "an entry with this DN comes earlier in the file"
            else:
                why = _errorText(reason.value)
            self.problem = f"entry {entry.dn.getText()!r} cannot be added: {why}"
        return reason

    def finish(self) -> None:
        """
        End of input: deliver a last line without newline and end the last
        entry even if the file lacks the final blank line.
        """
        rest = bytes(getattr(self, "_buffer", b""))  # LineReceiver's unterminated remainder
        if rest:
            self._buffer = b""
            self.lineReceived(rest)
        mode: bytes = getattr(self, "mode", HEADER)
        if mode == IN_ENTRY or self.lastLine is not None:
            self.lineReceived(b"")
        if getattr(self, "mode", HEADER) == HEADER:
            self.mode = WAIT_FOR_DN  # no entries at all: loadLDIF reports it
        self.connectionLost(Failure(ConnectionDone()))  # type: ignore[no-untyped-call]


def loadLDIF(path: str | Path) -> ReadOnlyInMemoryLDAPEntry:
    """
    Load an LDIF file into an ldaptor in-memory tree.

    The first entry of the file is the root of the tree; every other entry
    must come after its parent.

    @return: the root entry.
    @raise LDIFLoadError: if the file cannot be read, is empty, is not valid
        LDIF, or holds an entry without parent or a duplicate.
    """
    name = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise LDIFLoadError(f"{name}: cannot read: {e.strerror or e}") from None
    loader = _LDIFLoader()
    problem: str | None = None
    try:
        loader.dataReceived(data)
        loader.finish()
    except (LDIFParseError, ValueError, binascii.Error) as e:
        problem = _errorText(e)
    except (InvalidRelativeDistinguishedName, IndexError) as e:
        # ldaptor's DN parser fails this way on malformed DNs.
        problem = f"bad DN: {_errorText(e)}"
    except NotImplementedError:
        problem = "URL values (attr:< url) are not supported"
    if problem is not None:
        # Consume the half-built tree's outcome so no failure goes unhandled.
        pending = getattr(loader, "_deferred", None)
        if pending is not None:
            pending.addErrback(lambda f: None)
        raise LDIFLoadError(f"{name}: line {loader.lineNumber}: {problem}")
    if loader.db is None:
        raise LDIFLoadError(f"{name}: no entries")
    outcome: list[object] = []
    loader.completed.addBoth(outcome.append)
    if not outcome:  # pragma: no cover - the in-memory tree is synchronous
        raise LDIFLoadError(f"{name}: loading did not complete")
    result = outcome[0]
    if isinstance(result, Failure):
        raise LDIFLoadError(f"{name}: {loader.problem or _errorText(result.value)}")
    return result


def _subtree(root: ReadOnlyInMemoryLDAPEntry) -> list[Any]:
    entries: list[Any] = []
    todo = [root]
    while todo:
        current = todo.pop()
        entries.append(current)
        current.children(callback=todo.append)
    return entries


def _nodeIDOf(attributes: Mapping[str, list[bytes]]) -> NodeID | None:
    values = attributes.get("lin6nodeid", [])
    if len(values) != 1:
        return None
    try:
        return NodeID.fromString(values[0].decode("ascii"))
    except (AddressError, UnicodeDecodeError):
        return None


def _index(
    root: ReadOnlyInMemoryLDAPEntry, space: LIN6Space
) -> tuple[dict[NodeID, Subscriber | BadDirectoryEntry], list[BadDirectoryEntry]]:
    """
    Index a tree's subscriber entries by Node ID (see L{EmbeddedDirectory}).

    @return: the index and the refusals of entries without a usable Node ID.
    """
    index: dict[NodeID, Subscriber | BadDirectoryEntry] = {}
    unreachable: list[BadDirectoryEntry] = []
    dns: dict[NodeID, list[str]] = {}
    for entry in _subtree(root):
        attributes = normalizeAttributes(entry.items())
        classes = {v.lower() for v in attributes.get("objectclass", [])}
        if OBJECT_CLASS.lower().encode() not in classes:
            continue
        dn = entry.dn.getText()
        outcome: Subscriber | BadDirectoryEntry
        try:
            outcome = parseSubscriber(dn, attributes, space)
            nodeID = outcome.nodeID
        except BadDirectoryEntry as e:
            found = _nodeIDOf(attributes)
            if found is None:
                log.warn("Directory entry cannot be looked up: {reason}", reason=str(e))
                unreachable.append(e)
                continue
            log.warn("Directory entry refused: {reason}", reason=str(e))
            nodeID, outcome = found, e
        dns.setdefault(nodeID, []).append(dn)
        index[nodeID] = outcome
    for nodeID, names in dns.items():
        if len(names) > 1:
            error = BadDirectoryEntry(
                f"Node ID {nodeID} has {len(names)} entries: {', '.join(sorted(names))}"
            )
            log.warn("Directory entry refused: {reason}", reason=str(error))
            index[nodeID] = error
    return index, unreachable


@implementer(IDirectory)
class EmbeddedDirectory:
    """
    An L{IDirectory} answered in-process from an ldaptor in-memory tree.

    The tree is indexed by Node ID when the directory is built: a malformed
    C{lin6Subscriber} entry is logged then, and its lookups fail with
    L{BadDirectoryEntry}; an entry whose Node ID
    cannot even be read is logged and never found; two entries with the
    same Node ID make that Node ID a L{BadDirectoryEntry}.  All other
    entries are served.

    @ivar root: the tree (may also be served by L{DirectoryServerFactory}).
    @ivar unreachable: the refusals of entries without a usable Node ID.
    @ivar path: the LDIF file, if loaded from one (for L{reload}).
    """

    def __init__(
        self,
        root: ReadOnlyInMemoryLDAPEntry,
        space: LIN6Space = DEFAULT_SPACE,
        path: Path | None = None,
    ) -> None:
        self.root = root
        self.space = space
        self.path = path
        self._index, self.unreachable = _index(root, space)

    @classmethod
    def fromLDIF(cls, path: str | Path, space: LIN6Space = DEFAULT_SPACE) -> EmbeddedDirectory:
        """
        Load an LDIF file (see L{loadLDIF}) and index it.

        @raise LDIFLoadError: if the file cannot be loaded.
        """
        directory = cls(loadLDIF(path), space, Path(path))
        log.info(
            "Embedded directory loaded from {path}: {count} subscribers",
            path=str(path),
            count=len(directory),
        )
        return directory

    def reload(self) -> bool:
        """
        Load the LDIF file again (e.g. on C{SIGHUP}) and switch to it at
        once.  If it cannot be loaded, the error is logged and the current
        entries stay.

        @return: whether the new file is now served.
        @raise ValueError: if this directory was not loaded from a file.
        """
        if self.path is None:
            raise ValueError("this directory was not loaded from a file")
        try:
            root = loadLDIF(self.path)
        except LDIFLoadError as e:
            log.error(
                "Directory not reloaded, keeping the current entries: {reason}", reason=str(e)
            )
            return False
        self._index, self.unreachable = _index(root, self.space)
        self.root = root
        log.info(
            "Embedded directory reloaded from {path}: {count} subscribers",
            path=str(self.path),
            count=len(self),
        )
        return True

    def __len__(self) -> int:
        """
        The number of Node IDs with an entry (valid or not).
        """
        return len(self._index)

    def entries(self) -> dict[NodeID, Subscriber | BadDirectoryEntry]:
        """
        Every Node ID with an entry, with its subscriber or the reason it is
        refused.
        """
        return dict(self._index)

    def lookup(self, nodeID: NodeID) -> Deferred[Subscriber | None]:
        outcome = self._index.get(nodeID)
        if isinstance(outcome, BadDirectoryEntry):
            # Logged as a warning at load time; callers log their refusal.
            log.debug("Directory entry refused: {reason}", reason=str(outcome))
            return fail(outcome)
        return succeed(outcome)


class ReadOnlyLDAPServer(LDAPServer):  # type: ignore[misc]
    """
    ldaptor's LDAP server, read-only: every write is refused with
    C{unwillingToPerform}, C{userPassword} values are never returned, and
    when the factory asks for it, searches need a successful bind first.
    Searches by C{lin6NodeID} are answered from the factory's equality
    index (like slapd's C{eq} index) instead of walking the whole tree.
    """

    factory: DirectoryServerFactory

    def _refuse(self, request: object, controls: object, reply: object) -> None:
        raise ldaperrors.LDAPUnwillingToPerform("this directory is read-only")

    handle_LDAPAddRequest = _refuse
    handle_LDAPDelRequest = _refuse
    handle_LDAPModifyRequest = _refuse
    handle_LDAPModifyDNRequest = _refuse

    def handle_LDAPExtendedRequest(self, request: Any, controls: object, reply: object) -> None:
        name = _text(getattr(request, "requestName", b"") or b"")
        raise ldaperrors.LDAPUnwillingToPerform(
            f"extended operation {name} is not supported (read-only directory)"
        )

    def getRootDSE(self, request: Any, reply: Any) -> Any:
        """
        The root DSE, advertising no extended operation (ldaptor's names
        password modify, which a read-only directory refuses).
        """
        root = self.factory.root
        reply(
            pureldap.LDAPSearchResultEntry(
                objectName="",
                attributes=[
                    ("supportedLDAPVersion", ["3"]),
                    ("namingContexts", [root.dn.getText()]),
                ],
            )
        )
        return pureldap.LDAPSearchResultDone(resultCode=ldaperrors.Success.resultCode)

    def handle_LDAPSearchRequest(self, request: Any, controls: Any, reply: Any) -> Any:
        try:
            DistinguishedName(request.baseObject)
        except Exception:
            raise ldaperrors.LDAPInvalidDNSyntax(
                f"invalid base DN {_text(request.baseObject)!r}"
            ) from None
        _checkFilter(request.filter)
        # A filter on a value nobody may read evaluates to false, whatever
        # the value: results never depend on a password (RFC 4513 6).
        request.filter = _withoutHidden(request.filter)
        rootDSE = request.baseObject == b"" and request.scope == pureldap.LDAP_SCOPE_baseObject
        if self.factory.requireBind and self.boundUser is None and not rootDSE:
            raise ldaperrors.LDAPInsufficientAccessRights("bind first")
        if rootDSE and _isPresent(request.filter, "objectclass"):
            self.checkControls(controls)
            return self.getRootDSE(request, reply)
        # The size limit, for the tree walk (ldaptor ignores it) and the
        # index alike: entries past it are not sent, and the search ends
        # with sizeLimitExceeded.
        limit = request.sizeLimit
        sent = 0
        exceeded = False

        def filtered(response: Any) -> None:
            nonlocal sent, exceeded
            if isinstance(response, pureldap.LDAPSearchResultEntry):
                if limit and sent >= limit:
                    exceeded = True
                    return
                sent += 1
                response.attributes = [
                    (name, values)
                    for name, values in response.attributes
                    if _text(name).lower() not in _HIDDEN
                ]
            reply(response)

        def done(result: Any) -> Any:
            if exceeded and isinstance(result, pureldap.LDAPSearchResultDone):
                return pureldap.LDAPSearchResultDone(
                    resultCode=ldaperrors.LDAPSizeLimitExceeded.resultCode
                )
            return result

        candidates = self.factory.candidates(request.filter)
        if candidates is None or rootDSE:
            result = super().handle_LDAPSearchRequest(request, controls, filtered)
        else:
            result = self._indexedSearch(request, candidates, filtered)
        if isinstance(result, Deferred):
            return result.addCallback(done)
        return done(result)

    def _indexedSearch(self, request: Any, candidates: list[Any], reply: Any) -> Any:
        """
        Answer a search from the factory's index: the candidates whose DN
        is in the request's scope and that match its filter (ldaptor's own
        matching), like the tree walk would, without walking the tree (the
        size limit is applied by C{reply}, as for the walk).
        """
        self.checkControls(None)
        base = DistinguishedName(request.baseObject)
        d = self.factory.root.lookup(base)

        def found(_: object) -> Any:
            for entry in candidates:
                if not _inScope(entry.dn, base, request.scope) or not entry.match(request.filter):
                    continue
                wanted = request.attributes
                if wanted and b"*" not in wanted and "*" not in wanted:
                    attributes = [(k, entry.get(k)) for k in wanted if k in entry]
                else:
                    attributes = list(entry.items())
                reply(
                    pureldap.LDAPSearchResultEntry(
                        objectName=entry.dn.getText(), attributes=attributes
                    )
                )
            return pureldap.LDAPSearchResultDone(resultCode=ldaperrors.Success.resultCode)

        d.addCallback(found)
        d.addErrback(self._cbSearchLDAPError)
        return d

    def handle_LDAPCompareRequest(self, request: Any, controls: Any, reply: Any) -> Any:
        if _text(request.ava.attributeDesc.value).lower() in _HIDDEN:
            raise ldaperrors.LDAPInsufficientAccessRights("userPassword cannot be compared")
        if self.factory.requireBind and self.boundUser is None:
            raise ldaperrors.LDAPInsufficientAccessRights("bind first")
        return super().handle_LDAPCompareRequest(request, controls, reply)


_HIDDEN: Final = frozenset({"userpassword"})
"""Attributes never returned, compared or matched (lower case)."""

_FALSE: Final = pureldap.LDAPFilter_and(
    [
        pureldap.LDAPFilter_present("objectClass"),
        pureldap.LDAPFilter_not(pureldap.LDAPFilter_present("objectClass")),
    ]
)
"""A filter no entry matches."""


def _filterAttribute(item: Any) -> str | None:
    """
    The attribute a leaf filter item tests (lower case), or C{None}.
    """
    if isinstance(item, pureldap.LDAPFilter_present):
        return _text(item.value).lower()
    if isinstance(item, pureldap.LDAPFilter_substrings):
        return _text(item.type).lower()
    desc = getattr(item, "attributeDesc", None)
    if desc is not None:
        return _text(desc.value).lower()
    return None


def _withoutHidden(item: Any) -> Any:
    """
    C{item} with every test of a hidden attribute replaced by a filter that
    matches nothing, so no result depends on a hidden value.
    """
    if isinstance(item, (pureldap.LDAPFilter_and, pureldap.LDAPFilter_or)):
        return type(item)([_withoutHidden(part) for part in item])
    if isinstance(item, pureldap.LDAPFilter_not):
        return pureldap.LDAPFilter_not(_withoutHidden(item.value))
    if _filterAttribute(item) in _HIDDEN:
        return _FALSE
    return item


def _checkFilter(item: Any) -> None:
    """
    Refuse the filter items this directory cannot evaluate, with a clear
    result instead of an internal error.

    @raise ldaperrors.LDAPUnwillingToPerform: approximate or extensible
        matches anywhere in the filter.
    """
    if isinstance(item, (pureldap.LDAPFilter_and, pureldap.LDAPFilter_or)):
        for part in item:
            _checkFilter(part)
    elif isinstance(item, pureldap.LDAPFilter_not):
        _checkFilter(item.value)
    elif isinstance(item, pureldap.LDAPFilter_approxMatch):
        raise ldaperrors.LDAPUnwillingToPerform("approximate matches (~=) are not supported")
    elif isinstance(item, pureldap.LDAPFilter_extensibleMatch):
        raise ldaperrors.LDAPUnwillingToPerform("extensible matches (:=) are not supported")


def _isPresent(item: Any, attribute: str) -> bool:
    return isinstance(item, pureldap.LDAPFilter_present) and _text(item.value).lower() == attribute


INDEXED: Final = "lin6NodeID"
"""The attribute L{DirectoryServerFactory} indexes for equality."""


def _indexedValues(filterObject: Any) -> set[str] | None:
    """
    The lower-case C{lin6NodeID} values a filter can only match through, or
    C{None} if it can match entries without any of them.
    """
    if isinstance(filterObject, pureldap.LDAPFilter_equalityMatch):
        if _text(filterObject.attributeDesc.value).lower() == INDEXED.lower():
            return {_text(filterObject.assertionValue.value).lower()}
        return None
    if isinstance(filterObject, pureldap.LDAPFilter_and):
        for part in filterObject:
            values = _indexedValues(part)
            if values is not None:
                return values
        return None
    if isinstance(filterObject, pureldap.LDAPFilter_or):
        union: set[str] = set()
        for part in filterObject:
            values = _indexedValues(part)
            if values is None:
                return None
            union |= values
        return union
    return None


def _inScope(dn: DistinguishedName, base: DistinguishedName, scope: int) -> bool:
    if scope == pureldap.LDAP_SCOPE_baseObject:
        return bool(dn == base)
    if scope == pureldap.LDAP_SCOPE_singleLevel:
        return bool(dn.up() == base)
    return bool(base.contains(dn))


def _errorText(error: BaseException | None) -> str:
    try:
        return str(error)
    except TypeError:  # ldaptor errors may render as bytes
        return repr(error)


def _text(value: str | bytes) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


class DirectoryServerFactory(ServerFactory):
    """
    Builds L{ReadOnlyLDAPServer}s serving one in-memory tree.

    @ivar root: the tree.
    @ivar requireBind: whether searches need a successful simple bind (to an
        entry of the tree with a C{userPassword}).
    """

    protocol = ReadOnlyLDAPServer
    noisy = False

    def __init__(self, root: ReadOnlyInMemoryLDAPEntry, requireBind: bool = False) -> None:
        self.requireBind = requireBind
        self._index: dict[str, list[Any]] = {}
        self.root = root

    @property
    def root(self) -> ReadOnlyInMemoryLDAPEntry:
        """
        The tree served; setting it (after a reload) rebuilds the index.
        """
        return self._root

    @root.setter
    def root(self, root: ReadOnlyInMemoryLDAPEntry) -> None:
        index: dict[str, list[Any]] = {}
        for entry in _subtree(root):
            for value in entry.get(INDEXED, ()):
                index.setdefault(_text(value).lower(), []).append(entry)
        self._root, self._index = root, index

    def candidates(self, filterObject: Any) -> list[Any] | None:
        """
        The entries that may match C{filterObject} according to the
        C{lin6NodeID} equality index, or C{None} if the filter cannot use
        the index (then the tree is walked).
        """
        values = _indexedValues(filterObject)
        if values is None:
            return None
        found: dict[int, Any] = {}
        for value in values:
            for entry in self._index.get(value, ()):
                found[id(entry)] = entry
        return list(found.values())

    def __conform__(self, interface: object) -> object:
        # ldaptor's server finds the tree with IConnectedLDAPEntry(factory).
        if interface is ldapinterfaces.IConnectedLDAPEntry:
            return self.root
        return None
