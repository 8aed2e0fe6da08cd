# -*- test-case-name: lin6twisted.directory.test.test_ldap -*-
"""
The LDAP directory: subscribers looked up in a real LDAP server (OpenLDAP
C{slapd}, or C{lin6 directory serve}) with ldaptor's client.

L{LDAPDirectory} keeps one connection (a L{ClientService}, reconnecting with
backoff), binds on each new connection when a bind DN is configured, and
searches C{(lin6NodeID=...)} under a base DN for each lookup.  Every lookup
has a deadline.  Failures map to the directory's errors:

  - connection refused, lost, or no answer before the deadline, a refused
    bind, a missing base DN or any LDAP error result ->
    L{DirectoryUnavailable} (with the reason);
  - more than one entry for the Node ID, or an entry breaking the schema's
    rules -> L{BadDirectoryEntry} (logged);
  - no entry -> C{None}.

After a failed connection attempt, lookups fail at once (instead of waiting
for the deadline) until the service reconnects.  A lookup that times out
drops the connection, so a server that stopped answering on a half-open
connection is reconnected to.
"""

from __future__ import annotations

import math
from typing import Any

from ldaptor.protocols import pureldap
from ldaptor.protocols.ldap import ldaperrors
from ldaptor.protocols.ldap.ldapclient import LDAPClient, LDAPClientConnectionLostException
from twisted.application.internet import ClientService, backoffPolicy
from twisted.application.service import Service
from twisted.internet.defer import (
    CancelledError,
    Deferred,
    TimeoutError,
    fail,
    maybeDeferred,
    succeed,
)
from twisted.internet.error import ConnectError, ConnectionClosed
from twisted.internet.interfaces import IAddress, IDelayedCall, IReactorTime, IStreamClientEndpoint
from twisted.internet.protocol import Factory
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from lin6twisted.address import DEFAULT_SPACE, LIN6Space, NodeID
from lin6twisted.directory.entry import (
    ATTRIBUTES,
    OBJECT_CLASS,
    normalizeAttributes,
    parseSubscriber,
)
from lin6twisted.directory.interfaces import (
    BadDirectoryEntry,
    DirectoryUnavailable,
    IDirectory,
    Subscriber,
)

__all__ = ["LDAPDirectory", "searchRequest"]

log = Logger()

_SUCCESS = ldaperrors.Success.resultCode
_NO_SUCH_OBJECT = ldaperrors.LDAPNoSuchObject.resultCode
_SIZE_LIMIT = ldaperrors.LDAPSizeLimitExceeded.resultCode


def _equal(attribute: str, value: str) -> Any:
    return pureldap.LDAPFilter_equalityMatch(
        attributeDesc=pureldap.LDAPAttributeDescription(value=attribute),
        assertionValue=pureldap.LDAPAssertionValue(value=value),
    )


def searchRequest(baseDN: str, nodeID: NodeID, timeLimit: int = 0) -> Any:
    """
    The search request finding the entry of C{nodeID} under C{baseDN}: the
    filter of L{lin6twisted.directory.entry.nodeIDFilterText}, the whole
    subtree, at most 2 entries (2 means ambiguous), only the attributes a
    L{Subscriber} needs.
    """
    forms = [str(nodeID), nodeID.asEUI64(), f"{nodeID.value:016x}"]
    return pureldap.LDAPSearchRequest(
        baseObject=baseDN,
        scope=pureldap.LDAP_SCOPE_wholeSubtree,
        derefAliases=pureldap.LDAP_DEREF_neverDerefAliases,
        sizeLimit=2,
        timeLimit=timeLimit,
        typesOnly=0,
        filter=pureldap.LDAPFilter_and(
            [
                _equal("objectClass", OBJECT_CLASS),
                pureldap.LDAPFilter_or([_equal("lin6NodeID", form) for form in forms]),
            ]
        ),
        attributes=list(ATTRIBUTES),
    )


class _DirectoryClient(LDAPClient):  # type: ignore[misc]
    """
    An LDAP client connection that tells its L{LDAPDirectory} when it comes
    and goes and binds once before its first search.
    """

    def __init__(self, owner: LDAPDirectory) -> None:
        super().__init__()
        self.owner = owner
        self._binding = False
        self._bindOutcome: _DirectoryClient | Failure | None = None
        self._bindWaiters: list[Deferred[_DirectoryClient]] = []

    def connectionMade(self) -> None:
        super().connectionMade()
        self.owner._clientConnected(self)

    def connectionLost(self, reason: Failure) -> None:
        super().connectionLost(reason)
        self.owner._clientLost(self, reason)

    def ready(self) -> Deferred[_DirectoryClient]:
        """
        Fire with this client once it is bound (at once if no bind DN), or
        fail with the bind's L{DirectoryUnavailable}.

        Each caller gets its own Deferred, so one cancelled (timed out)
        lookup does not cancel the bind the others wait for.
        """
        result: Deferred[_DirectoryClient] = Deferred()
        if self._bindOutcome is not None:
            _relay(self._bindOutcome, result)
            return result
        self._bindWaiters.append(result)
        if not self._binding:
            self._binding = True
            maybeDeferred(self._bind).addBoth(self._bound)
        return result

    def _bound(self, outcome: _DirectoryClient | Failure) -> None:
        self._bindOutcome = outcome
        waiters, self._bindWaiters = self._bindWaiters, []
        for waiter in waiters:
            _relay(outcome, waiter)

    def _bind(self) -> Deferred[_DirectoryClient]:
        owner = self.owner
        if owner.bindDN is None:
            done: Deferred[_DirectoryClient] = Deferred()
            done.callback(self)
            return done
        request = pureldap.LDAPBindRequest(dn=owner.bindDN, auth=owner.password or b"")
        sent: Deferred[Any] = self.send(request)

        def bound(response: Any) -> _DirectoryClient:
            if response.resultCode != _SUCCESS:
                reason = f"bind as {owner.bindDN!r} refused: {_describe(response)}"
                log.warn("LDAP server {endpoint}: {reason}", endpoint=owner.name, reason=reason)
                owner._lastFailure = reason
                self.transport.loseConnection()
                raise DirectoryUnavailable(f"LDAP server {owner.name}: {reason}")
            log.info(
                "Bound to LDAP server {endpoint} as {dn}", endpoint=owner.name, dn=owner.bindDN
            )
            return self

        return sent.addCallback(bound)

    def search(self, request: Any) -> Deferred[tuple[Any, list[Any]]]:
        """
        Send a search; fire with C{(done, entries)} when its
        C{SearchResultDone} arrives.
        """
        result: Deferred[tuple[Any, list[Any]]] = Deferred()
        entries: list[Any] = []

        def handle(response: Any) -> bool:
            if isinstance(response, pureldap.LDAPSearchResultEntry):
                entries.append(response)
                return False
            if isinstance(response, pureldap.LDAPSearchResultReference):
                return False  # referrals are not followed
            if not result.called:
                result.callback((response, entries))
            return True

        sent: Deferred[Any] = self.send_multiResponse(request, handle)
        # Fires only if the connection is lost before the answer.
        sent.addErrback(lambda f: None if result.called else result.errback(f))
        return result


def _readyOf(client: _DirectoryClient) -> Deferred[_DirectoryClient]:
    return client.ready()


def _relay(value: object, target: Deferred[Any]) -> object:
    if not target.called:
        if isinstance(value, Failure):
            target.errback(value)
        else:
            target.callback(value)
    return value


def _describe(response: Any) -> str:
    code = response.resultCode
    name = type(ldaperrors.get(code, b"")).__name__
    message = response.errorMessage
    if isinstance(message, bytes):
        message = message.decode("utf-8", "replace")
    return f"{name} ({code})" + (f": {message}" if message else "")


class _ClientFactory(Factory):
    noisy = False

    def __init__(self, owner: LDAPDirectory) -> None:
        self.owner = owner

    def buildProtocol(self, addr: IAddress | None) -> _DirectoryClient:
        client = _DirectoryClient(self.owner)
        client.factory = self
        return client


@implementer(IDirectory)
class LDAPDirectory(Service):
    """
    An L{IDirectory} backed by an LDAP server (see the module docstring).

    It is a service: start it (or add it to the daemon's C{MultiService}) to
    connect; a lookup on a service never started starts it.  After
    C{stopService} lookups fail with L{DirectoryUnavailable}.

    @ivar endpoint: where the server is.
    @ivar name: the server as shown in messages (default: host and port of
        a TCP endpoint).
    @ivar baseDN: the subtree searched.
    @ivar bindDN: DN for a simple bind on each connection, or C{None} for
        anonymous access.
    @ivar password: the bind password.
    @ivar timeout: seconds a lookup may take, connecting included.
    """

    def __init__(
        self,
        endpoint: IStreamClientEndpoint,
        baseDN: str,
        clock: IReactorTime,
        *,
        bindDN: str | None = None,
        password: bytes | None = None,
        timeout: float = 5.0,
        space: LIN6Space = DEFAULT_SPACE,
        retryMaxDelay: float = 10.0,
        name: str | None = None,
    ) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be > 0")
        self.endpoint = endpoint
        self.name = name if name is not None else _describeEndpoint(endpoint)
        self.baseDN = baseDN
        self.bindDN = bindDN
        self.password = password
        self.timeout = timeout
        self.space = space
        self.clock = clock
        self._client: _DirectoryClient | None = None
        self._lastFailure: str | None = None
        self._stopped = False
        self._rewatch: IDelayedCall | None = None
        self._connections = ClientService(
            endpoint,
            _ClientFactory(self),
            retryPolicy=backoffPolicy(initialDelay=0.5, maxDelay=retryMaxDelay),
            clock=clock,
        )

    def __repr__(self) -> str:
        return f"<LDAPDirectory {self.name} base={self.baseDN!r}>"

    def startService(self) -> None:
        self._stopped = False
        super().startService()  # type: ignore[no-untyped-call]
        log.info("Connecting to LDAP server {endpoint}", endpoint=self.name)
        self._watchOnce()  # before starting, to see the first attempt fail
        self._connections.startService()

    def stopService(self) -> Deferred[None]:
        """
        Close the connection and stop reconnecting; idempotent.

        @return: a Deferred firing once the connection is closed (in a later
            turn of the clock, never from inside the L{ClientService}).
        """
        if self._stopped:
            return succeed(None)
        self._stopped = True
        if self._rewatch is not None and self._rewatch.active():
            self._rewatch.cancel()
        self._rewatch = None
        if self.running:
            super().stopService()  # type: ignore[no-untyped-call]
        stopped: Deferred[None] = Deferred()

        def relay(result: object) -> None:
            self.clock.callLater(0, _relay, result, stopped)

        self._connections.stopService().addBoth(relay)
        return stopped

    # -- connection tracking ------------------------------------------------

    def _clientConnected(self, client: _DirectoryClient) -> None:
        self._client = client
        if self._lastFailure is not None:
            log.info("Reconnected to LDAP server {endpoint}", endpoint=self.name)
        self._lastFailure = None

    def _clientLost(self, client: _DirectoryClient, reason: Failure) -> None:
        if self._client is client:
            self._client = None
            if not self._stopped:
                log.warn(
                    "Connection to LDAP server {endpoint} lost: {reason}",
                    endpoint=self.name,
                    reason=reason.getErrorMessage(),
                )
                # After the ClientService has seen the loss, too.
                self._rewatch = self.clock.callLater(0, self._watch)

    def _watch(self) -> None:
        self._rewatch = None
        self._watchOnce()

    def _watchOnce(self) -> None:
        """
        While not connected, learn of each failed connection attempt (to
        fail lookups at once) until one succeeds.
        """
        if self._stopped:
            return
        watching: Deferred[Any] = self._connections.whenConnected(failAfterFailures=1)

        def failed(failure: Failure) -> None:
            if not isinstance(failure.value, CancelledError):
                self._connectFailed(failure)
                # Not from inside the ClientService's state machine.
                self._rewatch = self.clock.callLater(0, self._watch)

        watching.addCallbacks(lambda _: None, failed)

    def _connectFailed(self, failure: Failure) -> Failure:
        if not isinstance(failure.value, CancelledError):
            message = failure.getErrorMessage()
            if self._lastFailure is None:
                log.warn(
                    "Cannot reach LDAP server {endpoint}: {reason}",
                    endpoint=self.name,
                    reason=message,
                )
            self._lastFailure = message
        return failure

    # -- lookups --------------------------------------------------------------

    def lookup(self, nodeID: NodeID) -> Deferred[Subscriber | None]:
        if self._stopped:
            return fail(DirectoryUnavailable(f"LDAP directory {self.name} is stopped"))
        if not self.running:
            self.startService()
        client = self._client
        if client is None and self._lastFailure is not None:
            return fail(
                DirectoryUnavailable(
                    f"LDAP server {self.name} unreachable ({self._lastFailure}); reconnecting"
                )
            )
        connected: Deferred[Any] = self._connected()
        timeLimit = max(1, math.ceil(self.timeout))
        request = searchRequest(self.baseDN, nodeID, timeLimit)
        result: Deferred[Any] = connected.addCallback(self._search, request)
        result.addCallback(self._parse, nodeID)
        result.addTimeout(self.timeout, self.clock)
        result.addErrback(self._translate, nodeID)
        return result

    def _connected(self) -> Deferred[_DirectoryClient]:
        client = self._client
        if client is not None and client.connected:
            return client.ready()
        waiting: Deferred[Any] = self._connections.whenConnected(failAfterFailures=1)
        waiting.addErrback(self._connectFailed)
        # Continue outside the ClientService's state machine, so that a
        # caller reacting to the outcome (e.g. by stopping us) does not
        # re-enter it.
        hop: Deferred[Any] = Deferred()

        def relay(result: object) -> None:
            self.clock.callLater(0, _relay, result, hop)

        waiting.addBoth(relay)
        return hop.addCallback(_readyOf)

    def _search(self, client: _DirectoryClient, request: Any) -> Deferred[tuple[Any, list[Any]]]:
        try:
            return client.search(request)
        except LDAPClientConnectionLostException:
            raise DirectoryUnavailable(f"connection to LDAP server {self.name} was lost") from None

    def _parse(self, answer: tuple[Any, list[Any]], nodeID: NodeID) -> Subscriber | None:
        done, entries = answer
        code = done.resultCode
        if code == _NO_SUCH_OBJECT:
            raise DirectoryUnavailable(
                f"LDAP server {self.name}: base DN {self.baseDN!r} does not exist"
            )
        if len(entries) > 1 or code == _SIZE_LIMIT:
            names = ", ".join(sorted(_text(e.objectName) for e in entries))
            raise BadDirectoryEntry(f"Node ID {nodeID} has more than one entry: {names}")
        if code != _SUCCESS:
            raise DirectoryUnavailable(
                f"LDAP server {self.name} failed the search: {_describe(done)}"
            )
        if not entries:
            return None
        entry = entries[0]
        return parseSubscriber(
            _text(entry.objectName),
            normalizeAttributes(entry.attributes),
            self.space,
            expected=nodeID,
        )

    def _translate(self, failure: Failure, nodeID: NodeID) -> Failure:
        error = failure.value
        if isinstance(error, BadDirectoryEntry):
            log.warn("Directory entry refused: {reason}", reason=str(error))
            return failure
        if isinstance(error, DirectoryUnavailable):
            raise error
        if isinstance(error, CancelledError):
            return failure  # the caller cancelled its lookup
        if isinstance(error, TimeoutError):
            client = self._client
            if client is not None and client.connected:
                # A server that does not answer in time is dropped; the
                # service reconnects.
                client.transport.abortConnection()
            raise DirectoryUnavailable(
                f"LDAP server {self.name} did not answer within {self.timeout:g}s"
            )
        if isinstance(error, ConnectError | ConnectionClosed | LDAPClientConnectionLostException):
            raise DirectoryUnavailable(
                f"LDAP server {self.name} unreachable: {failure.getErrorMessage()}"
            )
        log.failure("Unexpected failure looking up {nodeID}", failure, nodeID=str(nodeID))
        raise DirectoryUnavailable(f"LDAP lookup of {nodeID} failed: {failure.getErrorMessage()}")


def _describeEndpoint(endpoint: IStreamClientEndpoint) -> str:
    host = getattr(endpoint, "_host", None) or getattr(endpoint, "_hostText", None)
    port = getattr(endpoint, "_port", None)
    if host is not None and port is not None:
        return f"ldap://{host}:{port}"
    return repr(endpoint)


def _text(value: str | bytes) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
