# -*- test-case-name: lin6twisted.lab.test.test_config -*-
"""
The lab's configuration file (TOML, see C{etc/lab/default.toml}).

Places (the DNS host, LS replicas, sites, access networks) are put in
countries; L{lin6twisted.lab.plan} turns the file into namespaces,
addresses and WAN delays.
"""

from __future__ import annotations

import enum
from pathlib import Path

from attrs import frozen

from lin6twisted.address import AddressError, NodeID
from lin6twisted.config import ConfigError, Section, loadConfig

__all__ = [
    "AccessConfig",
    "DADMode",
    "LSConfig",
    "LabConfig",
    "MNConfig",
    "MoveMode",
    "ScenarioConfig",
    "SiteConfig",
    "defaultConfigPath",
    "loadLabConfig",
    "parseLabConfig",
]


def defaultConfigPath() -> Path:
    """
    The shipped lab configuration, C{etc/lab/default.toml}.
    """
    return Path(__file__).resolve().parents[2] / "etc" / "lab" / "default.toml"


class MoveMode(enum.Enum):
    """
    How a mobile node changes access networks.

    @cvar MAKE_BEFORE_BREAK: the new address and route first; the old link
        goes down a second after the content server has switched (a
        handset with two radios).
    @cvar BREAK_BEFORE_MAKE: the old link goes down at the moment the new
        address appears (packets in flight to the old locator are lost).
    """

    MAKE_BEFORE_BREAK = "make-before-break"
    BREAK_BEFORE_MAKE = "break-before-make"


class DADMode(enum.Enum):
    """
    How the MN's new address on an access network is checked for duplicates.
    """

    OPTIMISTIC = "optimistic"
    STANDARD = "standard"
    OFF = "off"


@frozen
class LSConfig:
    name: str
    country: str


@frozen
class SiteConfig:
    name: str
    country: str
    capacity: int


@frozen
class AccessConfig:
    name: str
    country: str


@frozen
class MNConfig:
    name: str
    nodeID: NodeID
    access: tuple[str, str]


@frozen
class ScenarioConfig:
    dad: DADMode = DADMode.OPTIMISTIC
    move: MoveMode = MoveMode.MAKE_BEFORE_BREAK
    warmup: float = 2.0
    measure: float = 6.0
    afterMove: float = 4.0
    lsDown: float = 5.0
    killLS: str | None = None
    stopMA: str | None = None
    maTimeout: float = 3.0
    probeAttaches: int = 3


@frozen
class LabConfig:
    """
    Everything the lab is built from.
    """

    path: Path
    rttMeasure: str
    matrix: Path | None
    service: str
    serviceNodeID: NodeID
    ldif: Path
    dnsCountry: str
    ls: tuple[LSConfig, ...]
    sites: tuple[SiteConfig, ...]
    access: tuple[AccessConfig, ...]
    mns: tuple[MNConfig, ...]
    levels: dict[str, int]
    streamPort: int
    offeredRate: int
    scenario: ScenarioConfig


def _country(section: Section) -> str:
    text = section.getString("country")
    if len(text) != 2 or not text.isalpha():
        raise section.error("country", f"must be a two-letter country code, got {text!r}")
    return text.upper()


def _name(section: Section, seen: set[str]) -> str:
    name = section.getString("name")
    if not name or not all(c.isalnum() or c in "-_" for c in name) or len(name) > 20:
        raise section.error("name", f"must be 1-20 letters, digits, - or _, got {name!r}")
    if name in seen:
        raise section.error("name", f"{name!r} is used twice")
    seen.add(name)
    return name


def _nodeID(section: Section, key: str) -> NodeID:
    try:
        return NodeID.fromString(section.getString(key))
    except AddressError as e:
        raise section.error(key, str(e)) from None


def _serviceNodeID(lab: Section) -> NodeID:
    text = lab.getString("service_node_id", "201:4a00:0:100")
    try:
        return NodeID.fromString(text)
    except AddressError as e:
        raise lab.error("service_node_id", str(e)) from None


def parseLabConfig(root: Section) -> LabConfig:
    """
    Read a lab configuration (see C{etc/lab/default.toml}).

    @raise ConfigError: naming the bad key.
    """
    lab = root.section("lab", required=True)
    measure = lab.getString("rtt_measure", "avg")
    if measure not in ("avg", "min"):
        raise lab.error("rtt_measure", f"must be 'avg' or 'min', got {measure!r}")
    matrix = lab.getPath("matrix", None, mustExist=True)
    seen: set[str] = set()
    dnsCountry = _country(lab.section("dns", required=True))
    ls = []
    for s in lab.sectionList("ls"):
        ls.append(LSConfig(_name(s, seen), _country(s)))
    sites = []
    for s in lab.sectionList("site"):
        sites.append(
            SiteConfig(_name(s, seen), _country(s), s.getInt("capacity", 100, min=1, max=1 << 30))
        )
    access = []
    for s in lab.sectionList("access"):
        access.append(AccessConfig(_name(s, seen), _country(s)))
    accessNames = {a.name for a in access}
    mns = []
    nodeIDs: set[NodeID] = set()
    for s in lab.sectionList("mn"):
        name = _name(s, seen)
        nodeID = _nodeID(s, "node_id")
        if not nodeID.isMobile:
            raise s.error("node_id", f"{nodeID} is not a mobile Node ID")
        if nodeID in nodeIDs:
            raise s.error("node_id", f"{nodeID} is used by two mobile nodes")
        nodeIDs.add(nodeID)
        nets = s.getList("access")
        if len(nets) != 2 or nets[0] == nets[1]:
            raise s.error("access", "must name two different access networks")
        for n in nets:
            if n not in accessNames:
                raise s.error("access", f"unknown access network {n!r}")
        mns.append(MNConfig(name, nodeID, (nets[0], nets[1])))
    if not 1 <= len(ls) <= 9:
        raise lab.error("ls", "give 1 to 9 LS replicas")
    if not 1 <= len(sites) <= 9:
        raise lab.error("site", "give 1 to 9 sites")
    if not 1 <= len(mns) <= 9:
        raise lab.error("mn", "give 1 to 9 mobile nodes")
    if len(ls) + len(sites) + len(access) + 1 > 200:
        raise lab.error("access", "too many places")
    levels = lab.section("levels", required=True)
    stream = lab.section("stream")
    sc = lab.section("scenario")
    killLS: str | None = sc.getString("kill_ls", ls[0].name)
    if killLS == "none":
        killLS = None
    elif killLS not in {x.name for x in ls}:
        raise sc.error("kill_ls", f"unknown LS replica {killLS!r}")
    stopMA: str | None = sc.getString("stop_ma", "none")
    if stopMA == "none":
        stopMA = None
    elif stopMA not in {x.name for x in sites}:
        raise sc.error("stop_ma", f"unknown site {stopMA!r}")
    scenario = ScenarioConfig(
        dad=sc.getEnum("dad", DADMode, DADMode.OPTIMISTIC),
        move=sc.getEnum("move", MoveMode, MoveMode.MAKE_BEFORE_BREAK),
        warmup=sc.getDuration("warmup", 2.0, min=0, max=600),
        measure=sc.getDuration("measure", 6.0, above=0, max=600),
        afterMove=sc.getDuration("after_move", 4.0, above=0, max=600),
        lsDown=sc.getDuration("ls_down", 5.0, min=0, max=600),
        killLS=killLS,
        stopMA=stopMA,
        maTimeout=sc.getDuration("ma_timeout", 3.0, above=0, max=600),
        probeAttaches=sc.getInt("probe_attaches", 3, min=0, max=20),
    )
    service = lab.getString("service", "stream.lin6.example")
    return LabConfig(
        path=Path(root.path),
        rttMeasure=measure,
        matrix=matrix,
        service=service,
        serviceNodeID=_serviceNodeID(lab),
        ldif=lab.getPath("ldif", mustExist=True),
        dnsCountry=dnsCountry,
        ls=tuple(ls),
        sites=tuple(sites),
        access=tuple(access),
        mns=tuple(mns),
        levels={
            "normal": levels.getInt("normal", min=8000),
            "premium": levels.getInt("premium", min=8000),
        },
        streamPort=stream.getInt("port", 8080, min=1, max=65535),
        offeredRate=stream.getInt("offered_rate", 10_000_000, min=8000),
        scenario=scenario,
    )


def loadLabConfig(path: str | Path | None = None) -> LabConfig:
    """
    Load a lab configuration file (the shipped one by default).

    @raise ConfigError: if it is missing or wrong.
    """
    return loadConfig(str(path or defaultConfigPath()), parseLabConfig)


__all__ += ["ConfigError"]
