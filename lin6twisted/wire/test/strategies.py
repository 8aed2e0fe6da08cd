"""
Hypothesis strategies for addresses and every wire message.
"""

from __future__ import annotations

from ipaddress import IPv6Address
from typing import Any

from hypothesis import strategies as st

from lin6twisted.address import NodeID, Prefix
from lin6twisted.wire import (
    HMAC_SIZE,
    MAX_COOKIE,
    MAX_LOCATORS,
    AnswerEntry,
    AnswerTableUpdate,
    Assignment,
    CookieChallenge,
    Heartbeat,
    LSError,
    LSErrorCode,
    MAEntry,
    MapQuery,
    MapReply,
    MapStatus,
    MAReply,
    MARequest,
    MATableUpdate,
    Notify,
    NotifyAck,
    Register,
    RegisterAck,
    RegisterFlags,
    RegisterStatus,
    Relay,
    Report,
    RTTReply,
    RTTRequest,
    RTTStatus,
    SyncDone,
    SyncRequest,
)

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)
u64 = st.integers(0, 0xFFFFFFFFFFFFFFFF)

addresses = st.integers(0, (1 << 128) - 1).map(IPv6Address)
nodeIDs = u64.map(NodeID)
prefixes = u64.map(Prefix)
locatorLists = st.lists(addresses, min_size=1, max_size=MAX_LOCATORS).map(tuple)
hmacs = st.binary(min_size=HMAC_SIZE, max_size=HMAC_SIZE)

maEntries = st.builds(MAEntry, addresses, u16, u64, u64, u32, u32, u32, u16, st.booleans(), u32)
answerEntries = st.builds(
    AnswerEntry, prefixes, addresses, u16, u64, u32, u32, st.sampled_from([1, 2])
)


def _errorText(text: str) -> str:
    data = text.encode("utf-8")[:512]
    return data.decode("utf-8", "ignore")


heartbeats = st.builds(Heartbeat, u32, addresses, u16, u64, u64, u32, u32, u32, u16)

LS_MESSAGES: dict[type, Any] = {
    Heartbeat: heartbeats,
    RTTRequest: st.builds(RTTRequest, u32, addresses, st.integers(1, 255), u16),
    RTTReply: st.builds(RTTReply, u32, addresses, st.sampled_from(RTTStatus), u32, u8),
    MARequest: st.builds(MARequest, u32, nodeIDs, st.binary(max_size=MAX_COOKIE)),
    MAReply: st.builds(MAReply, u32, nodeIDs, addresses, u16, u32, u32),
    MATableUpdate: st.builds(MATableUpdate, u32, st.lists(maEntries, max_size=20)),
    AnswerTableUpdate: st.builds(AnswerTableUpdate, u32, st.lists(answerEntries, max_size=20)),
    SyncRequest: st.builds(SyncRequest, u32, st.binary(min_size=16, max_size=16), u64),
    LSError: st.builds(
        LSError, u32, st.sampled_from(LSErrorCode), st.text(max_size=600).map(_errorText)
    ),
    Assignment: st.builds(Assignment, u32, nodeIDs, st.sampled_from([1, 2]), prefixes),
    CookieChallenge: st.builds(CookieChallenge, u32, st.binary(min_size=1, max_size=MAX_COOKIE)),
    SyncDone: st.builds(SyncDone, u32, u32, u32),
}
LS_MESSAGES[Relay] = st.builds(
    Relay,
    u32,
    addresses,
    st.one_of(LS_MESSAGES[RTTRequest], LS_MESSAGES[RTTReply], LS_MESSAGES[Assignment]),
)
"""Message class -> strategy, for every LS message."""


def _mapReply(
    requestId: int, nodeID: NodeID, found: bool, ttl: int, locators: tuple[IPv6Address, ...]
) -> MapReply:
    if found:
        return MapReply(requestId, nodeID, MapStatus.FOUND, ttl, locators)
    return MapReply(requestId, nodeID, MapStatus.NOT_FOUND, ttl)


MAPPING_MESSAGES: dict[type, Any] = {
    Register: st.builds(
        Register,
        u32,
        nodeIDs,
        locatorLists,
        u32,
        u32,
        u64,
        st.sampled_from([RegisterFlags(0), RegisterFlags.PINNED]),
        hmacs,
    ),
    RegisterAck: st.builds(RegisterAck, u32, nodeIDs, st.sampled_from(RegisterStatus), u32, u64),
    MapQuery: st.builds(MapQuery, u32, nodeIDs),
    MapReply: st.builds(_mapReply, u32, nodeIDs, st.booleans(), u32, locatorLists),
    Notify: st.builds(Notify, u32, nodeIDs, locatorLists),
    NotifyAck: st.builds(NotifyAck, u32, nodeIDs),
    Report: st.builds(Report, u32, nodeIDs, u64, u32, u64, u64, u32, u32, u32, hmacs),
}
"""Message class -> strategy, for every mapping message."""

lsMessages = st.one_of(*LS_MESSAGES.values())
mappingMessages = st.one_of(*MAPPING_MESSAGES.values())
anyMessage = st.one_of(lsMessages, mappingMessages)
