# -*- test-case-name: lin6twisted.lab.test.test_selection -*-
"""
How good are the Load Sharing server's choices?  (C{lin6 lab selection})

A simulation on the RIPE Atlas country matrix (L{lin6twisted.lab.ripe}):
clients from every country with data arrive one by one (weighted per
country by the scenario file, each from one of its country's /64s, normal
or premium), and are given one of N sites with capacities by:

    - C{ls}: the real LS core (L{lin6twisted.ls.core.LSCore}), driven the
      way C{lin6-ls} drives it: the MAs register and keep heartbeating their
      registration counts, every client sends an MA_REQUEST, the core's RTT
      requests are answered by the MAs "pinging" the client C{pings} times
      (RTTs from the matrix, with measurement noise), the core decides, time
      advances and the core's timers run (L{LSSimulation});
    - C{greedy}: an oracle that gives each client, in arrival order, the
      site with the lowest true RTT that has room (what the LS would do with
      perfect measurements and no history cache);
    - C{round-robin}: the LVS scheduler, skipping sites without room;
    - C{random}: a uniformly random site with room;
    - C{optimal}: the capacity-respecting assignment of all clients that
      minimises the total (so the mean) client RTT, as an integer
      transportation problem solved exactly (L{optimalAssignment}).

Clients stay for the whole run (a streaming session each), so the final
site loads are the peak loads.  Every policy respects the same per-site
limit as the core
(L{lin6twisted.ls.core.MAState.limit}: C{min(TH_load, capacity)}, in load
units C{normal x wt_normal + premium x wt_premium}).  A client's RTT is the
matrix mean RTT between its country and its site's country; the noise only
affects what the LS measures.

Time and latency in the LS simulation (all from the matrix, one-way = RTT/2):
an MA's heartbeat reaches the LS C{d(LS, site)} after it is sent; an RTT
request reaches the MA after C{d(LS, site)}; the MA sends its pings at once
and answers when the last is back (samples above the ping timeout
C{lin6-ls} gives it, 0.8 x C{rtt_timeout}, are lost),
and the answer takes C{d(LS, site)} back; a client registers with its site
C{d(LS, client) + d(client, site)} after the LS decided, and only then does
the MA count it in its heartbeats.  Each ping sample is drawn from a normal
distribution with the pair's mean and C{noise x rtt_std}, clipped at the
pair's minimum (random streams derived from the scenario's seed, so runs are
repeatable).

The scenario file (TOML, read with L{lin6twisted.config}) is described in
C{etc/lab/selection.toml}.
"""

from __future__ import annotations

import heapq
import itertools
import json
import math
import random
from collections.abc import Callable, Sequence
from ipaddress import IPv6Address
from pathlib import Path
from typing import IO, Any, Final

from attrs import define, field, frozen
from twisted.python import usage

from lin6twisted._cliutil import Command
from lin6twisted.address import NodeID
from lin6twisted.config import ConfigError, Section, loadConfig
from lin6twisted.directory import ServiceLevel
from lin6twisted.lab.ripe import MatrixError, RTTMatrix, RTTStat
from lin6twisted.ls.core import (
    Answer,
    Effect,
    HeartbeatReport,
    LSCore,
    LSSettings,
    MARecord,
    MAState,
    NotifyAssignment,
    PropagateAnswer,
    Query,
    Refuse,
    RelayHeartbeat,
    SendRTTRequest,
)

__all__ = [
    "POLICIES",
    "Assignment",
    "Client",
    "LSSimulation",
    "Options",
    "PolicyResult",
    "SelectionError",
    "SelectionReport",
    "SelectionScenario",
    "Site",
    "SiteSpec",
    "Workload",
    "buildScenario",
    "defaultScenarioPath",
    "evaluate",
    "greedyAssignment",
    "loadScenario",
    "makeWorkload",
    "optimalAssignment",
    "percentile",
    "randomAssignment",
    "roundRobinAssignment",
    "run",
    "runScenario",
    "runSelection",
]

POLICIES: Final = ("optimal", "ls", "greedy", "round-robin", "random")
"""Every policy, in the order reports show them."""

_COUNTRY_LEN: Final = 2
_DOC_PREFIX: Final = 0x20010DB8
_MOBILE_NODE_BASE: Final = 0x02014A0000000000
_U32: Final = 0xFFFFFFFF


def defaultScenarioPath() -> Path:
    """
    The shipped scenario, C{etc/lab/selection.toml}.
    """
    return Path(__file__).resolve().parents[2] / "etc" / "lab" / "selection.toml"


class SelectionError(Exception):
    """
    The simulation cannot run (e.g. the clients do not fit in the sites).
    """


# -- the scenario ------------------------------------------------------------


@frozen
class SiteSpec:
    """
    One site of the scenario: an MA with its content server.

    @ivar capacity: the load the MA reports as its capacity (load units).
    """

    name: str
    country: str
    capacity: int


@frozen
class SelectionScenario:
    """
    A parsed scenario file.

    @ivar clients: how many clients arrive.
    @ivar arrivalInterval: seconds between two arrivals.
    @ivar premiumShare: the probability that a client is premium.
    @ivar prefixesPerCountry: how many /64s the clients of a country share.
    @ivar weights: explicit per-country weights (relative arrival rates).
    @ivar defaultWeight: the weight of every other country of the matrix.
    @ivar lsCountry: where the LS runs.
    @ivar heartbeatInterval: seconds between an MA's heartbeats.
    @ivar pings: echo requests per RTT measurement.
    @ivar noise: per-ping standard deviation, in units of the pair's
        C{rtt_std}.
    @ivar settings: the LS core's tunables (the C{[ls]} table, with the
        same keys as C{lin6-ls}'s config).
    """

    sites: tuple[SiteSpec, ...]
    settings: LSSettings
    seed: int = 1
    clients: int = 1000
    arrivalInterval: float = 0.05
    premiumShare: float = 0.2
    prefixesPerCountry: int = 8
    weights: dict[str, float] = field(factory=dict)
    defaultWeight: float = 1.0
    lsCountry: str = "DE"
    heartbeatInterval: float = 10.0
    pings: int = 4
    noise: float = 0.25
    path: str = "<scenario>"


def _country(section: Section, key: str, value: str, matrix: RTTMatrix) -> str:
    code = value.strip().upper()
    if len(code) != _COUNTRY_LEN or not code.isalpha():
        raise section.error(key, f"must be a two-letter country code, got {value!r}")
    if code not in matrix.countries():
        raise section.error(key, f"country {code} is not in the RTT matrix")
    return code


def buildScenario(root: Section, matrix: RTTMatrix) -> SelectionScenario:
    """
    Read a scenario file's tables (see C{etc/lab/selection.toml}); countries
    are checked against C{matrix}.

    @raise ConfigError: naming the bad key.
    """
    sim = root.section("simulation")
    seed = sim.getInt("seed", 1)
    lsCountry = _country(sim, "ls_country", sim.getString("ls_country", "DE"), matrix)
    heartbeat = sim.getDuration("heartbeat_interval", 10.0, above=0)
    pings = sim.getInt("pings", 4, min=1, max=255)
    noise = sim.getFloat("noise", 0.25, min=0)

    ls = root.section("ls")
    settings = LSSettings(
        weightNormal=ls.getFloat("wt_normal", 1.0, above=0),
        weightPremium=ls.getFloat("wt_premium", 2.0, above=0),
        threshold=ls.getFloat("th_load", 100.0, above=0),
        maTimeout=ls.getDuration("ma_timeout", 30.0, above=0),
        historyLifetime=ls.getDuration("history_lifetime", 120.0, above=0),
        rttTimeout=ls.getDuration("rtt_timeout", 2.0, above=0),
        maxProbes=ls.getInt("max_probes", 64, min=1),
        loadPrice=ls.getFloat("load_price", 0.0, min=0),
    )
    if settings.maTimeout <= heartbeat:
        raise ls.error(
            "ma_timeout",
            f"must be longer than the heartbeat interval ({heartbeat:g}s) "
            "or every MA goes inactive between heartbeats",
        )

    clients = root.section("clients", required=True)
    count = clients.getInt("count", min=1, max=1_000_000)
    interval = clients.getDuration("arrival_interval", 0.05, above=0)
    premium = clients.getFloat("premium_share", 0.2, min=0, max=1)
    prefixes = clients.getInt("prefixes_per_country", 8, min=1, max=65535)
    defaultWeight = clients.getFloat("default_weight", 1.0, min=0)
    weightTable = clients.section("weights")
    weights: dict[str, float] = {}
    for key in sorted(weightTable.keys()):
        code = _country(weightTable, key, key, matrix)
        if code in weights:
            raise weightTable.error(key, f"country {code} is given twice")
        weights[code] = weightTable.getFloat(key, min=0)
    if defaultWeight == 0 and not any(weights.values()):
        raise clients.error("weights", "every country has weight 0: no client would arrive")

    sites = []
    names: set[str] = set()
    for s in root.sectionList("site"):
        name = s.getString("name")
        if name in names:
            raise s.error("name", f"site name {name!r} is used twice")
        names.add(name)
        country = _country(s, "country", s.getString("country"), matrix)
        sites.append(SiteSpec(name, country, s.getInt("capacity", min=1)))
    if not sites:
        raise root.error("site", "at least one [[site]] is required")
    for site in sites:
        try:
            matrix.stat(lsCountry, site.country)
        except MatrixError:
            raise root.error(
                "site", f"no RTT data between the LS ({lsCountry}) and site {site.name}"
            ) from None
    return SelectionScenario(
        tuple(sites),
        settings,
        seed=seed,
        clients=count,
        arrivalInterval=interval,
        premiumShare=premium,
        prefixesPerCountry=prefixes,
        weights=weights,
        defaultWeight=defaultWeight,
        lsCountry=lsCountry,
        heartbeatInterval=heartbeat,
        pings=pings,
        noise=noise,
        path=root.path,
    )


def loadScenario(path: str | Path, matrix: RTTMatrix) -> SelectionScenario:
    """
    Read and check a scenario file.

    @raise ConfigError: on any problem with it (unknown keys included).
    """
    return loadConfig(path, lambda root: buildScenario(root, matrix))


def _stream(seed: int, name: str) -> random.Random:
    """
    An independent, repeatable random stream of a simulation (not crypto).
    """
    return random.Random(f"{seed}:{name}")  # noqa: S311


# -- sites and clients -------------------------------------------------------


@frozen
class Site:
    """
    A site as the simulation uses it.

    @ivar address: its MA's address.
    @ivar limit: the load it may reach (as the core computes it).
    """

    index: int
    name: str
    country: str
    capacity: int
    address: IPv6Address
    limit: float


def _limit(settings: LSSettings, capacity: int) -> float:
    # The core's own rule, so every policy respects exactly what the LS does.
    record = MARecord(IPv6Address(0), 0, 0, capacity, 0, 0, 0)
    return MAState(record).limit(settings)


def makeSites(scenario: SelectionScenario) -> list[Site]:
    """
    The scenario's sites, with MA addresses C{2001:db8:ffff:<n>::1}.
    """
    return [
        Site(
            i,
            s.name,
            s.country,
            s.capacity,
            IPv6Address(((_DOC_PREFIX << 32 | 0xFFFF << 16 | (i + 1)) << 64) | 1),
            _limit(scenario.settings, s.capacity),
        )
        for i, s in enumerate(scenario.sites)
    ]


@frozen
class Client:
    """
    One arriving client.

    @ivar arrival: when its MA_REQUEST reaches the LS (seconds after the
        first client's).
    @ivar address: its locator (its /64 plus its Node ID).
    """

    index: int
    country: str
    level: ServiceLevel
    nodeID: NodeID
    address: IPv6Address
    arrival: float


@frozen
class Workload:
    """
    The clients of a run, and the countries they came from.

    @ivar countries: the client countries (weight > 0, data to every site
        and to the LS).
    @ivar excluded: countries with weight > 0 left out for missing RTT data.
    """

    clients: tuple[Client, ...]
    countries: tuple[str, ...]
    excluded: tuple[str, ...]


def makeWorkload(
    scenario: SelectionScenario, matrix: RTTMatrix, sites: Sequence[Site]
) -> Workload:
    """
    Draw the clients (deterministic for the scenario's seed).

    Client addresses are in C{2001:db8::/32}: C{2001:db8:<country>:<n>::/64}
    holds the clients of the C{n}th prefix of a country; Node IDs are mobile
    LIN6 Node IDs C{201:4a00:<index>}.

    @raise SelectionError: if no country with weight has data to every site.
    """
    needed = {s.country for s in sites} | {scenario.lsCountry}
    countries, weights, excluded = [], [], []
    for c in sorted(matrix.countries()):
        w = scenario.weights.get(c, scenario.defaultWeight)
        if w <= 0:
            continue
        if not all((min(c, n), max(c, n)) in matrix.stats for n in needed):
            excluded.append(c)
            continue
        countries.append(c)
        weights.append(w)
    missing = sorted(c for c in scenario.weights if scenario.weights[c] > 0 and c in excluded)
    if missing:
        raise SelectionError(
            f"{scenario.path}: no RTT data between {', '.join(missing)} and every site and the LS"
        )
    if not countries:
        raise SelectionError(f"{scenario.path}: no client country has RTT data to every site")
    rng = _stream(scenario.seed, "workload")
    cumulative = list(itertools.accumulate(weights))
    clients = []
    for i in range(scenario.clients):
        ci = rng.choices(range(len(countries)), cum_weights=cumulative)[0]
        prefix = (
            (_DOC_PREFIX << 32) | ((ci + 1) << 16) | rng.randrange(scenario.prefixesPerCountry)
        )
        nodeID = NodeID(_MOBILE_NODE_BASE | (i + 1))
        level = (
            ServiceLevel.PREMIUM if rng.random() < scenario.premiumShare else ServiceLevel.NORMAL
        )
        clients.append(
            Client(
                i,
                countries[ci],
                level,
                nodeID,
                IPv6Address((prefix << 64) | nodeID.value),
                i * scenario.arrivalInterval,
            )
        )
    return Workload(tuple(clients), tuple(countries), tuple(excluded))


# -- policies ----------------------------------------------------------------


@define
class Assignment:
    """
    What a policy did: the site index per client (C{None}: refused).

    @ivar detail: policy-specific figures for the report.
    """

    sites: list[int | None]
    detail: dict[str, Any] = field(factory=dict)


def _sequential(
    clients: Sequence[Client],
    sites: Sequence[Site],
    settings: LSSettings,
    choose: Callable[[Client, list[Site]], Site],
) -> Assignment:
    load = [0.0] * len(sites)
    result: list[int | None] = []
    for client in clients:
        w = settings.weight(client.level)
        room = [s for s in sites if load[s.index] + w <= s.limit]
        if not room:
            result.append(None)
            continue
        site = choose(client, room)
        load[site.index] += w
        result.append(site.index)
    return Assignment(result)


def greedyAssignment(
    clients: Sequence[Client], sites: Sequence[Site], settings: LSSettings, matrix: RTTMatrix
) -> Assignment:
    """
    Each client, in arrival order, gets the site with the lowest true RTT
    that has room (ties: the lower site index).
    """

    def nearest(client: Client, room: list[Site]) -> Site:
        return min(room, key=lambda s: (matrix.rtt(client.country, s.country), s.index))

    return _sequential(clients, sites, settings, nearest)


def roundRobinAssignment(
    clients: Sequence[Client], sites: Sequence[Site], settings: LSSettings
) -> Assignment:
    """
    LVS round robin: the next site in turn, skipping sites without room.
    """
    turn = itertools.count()

    def nextSite(client: Client, room: list[Site]) -> Site:
        indices = {s.index for s in room}
        while True:
            i = next(turn) % len(sites)
            if i in indices:
                return sites[i]

    return _sequential(clients, sites, settings, nextSite)


def randomAssignment(
    clients: Sequence[Client], sites: Sequence[Site], settings: LSSettings, rng: random.Random
) -> Assignment:
    """
    A uniformly random site among those with room.
    """
    return _sequential(clients, sites, settings, lambda client, room: rng.choice(room))


def optimalAssignment(
    clients: Sequence[Client], sites: Sequence[Site], settings: LSSettings, matrix: RTTMatrix
) -> Assignment:
    """
    The assignment of every client that respects each site's limit and
    minimises the total client RTT.

    Clients of the same country and level are interchangeable, so this is
    the integer transportation problem: C{x[g, s]} clients of group C{g} at
    site C{s}, C{sum_s x[g, s] = n[g]}, C{sum_g w[g] x[g, s] <= limit[s]},
    minimise C{sum rtt[g, s] x[g, s]}; solved exactly by SciPy's MILP solver
    (HiGHS).  With integer weights this is the generalised assignment
    problem, which is why it is a MILP and not a matching.

    @raise SelectionError: if the clients cannot all fit, or SciPy is not
        installed.
    """
    try:
        import numpy as np
        from scipy.optimize import (
            Bounds,
            LinearConstraint,
            milp,
        )
        from scipy.sparse import coo_array
    except ImportError as e:  # pragma: no cover - scipy is a dependency
        raise SelectionError(f"the optimal assignment needs SciPy ({e})") from None
    groups: dict[tuple[str, ServiceLevel], list[int]] = {}
    for client in clients:
        groups.setdefault((client.country, client.level), []).append(client.index)
    keys = list(groups)
    nG, nS = len(keys), len(sites)
    result: list[int | None] = [None] * len(clients)
    if nG == 0:
        return Assignment(result, {"status": "empty"})
    cost = np.array(
        [[matrix.rtt(country, s.country) for s in sites] for country, _ in keys], dtype=float
    ).ravel()
    counts = np.array([len(groups[k]) for k in keys], dtype=float)
    weights = [settings.weight(level) for _, level in keys]
    rows, cols, vals = [], [], []
    for g in range(nG):
        for s in range(nS):
            rows.append(g)
            cols.append(g * nS + s)
            vals.append(1.0)
    demand = coo_array((vals, (rows, cols)), shape=(nG, nG * nS))
    rows, cols, vals = [], [], []
    for g in range(nG):
        for s in range(nS):
            rows.append(s)
            cols.append(g * nS + s)
            vals.append(weights[g])
    capacity = coo_array((vals, (rows, cols)), shape=(nS, nG * nS))
    limits = np.array([s.limit for s in sites], dtype=float)
    solution = milp(
        cost,
        constraints=[
            LinearConstraint(demand, counts, counts),
            LinearConstraint(capacity, -np.inf, limits),
        ],
        integrality=np.ones(nG * nS),
        bounds=Bounds(0, np.repeat(counts, nS)),
        options={"mip_rel_gap": 0.0},
    )
    if solution.status != 0 or solution.x is None:
        raise SelectionError(
            f"no capacity-respecting assignment of all {len(clients)} clients exists "
            f"({solution.message})"
        )
    x = np.rint(solution.x).astype(int).reshape(nG, nS)
    for g, key in enumerate(keys):
        members = iter(groups[key])
        for s in range(nS):
            for _ in range(int(x[g, s])):
                result[next(members)] = s
    return Assignment(result, {"status": "optimal", "objective_ms": float(solution.fun)})


# -- the LS, driven as lin6-ls drives it ---------------------------------------


def _sample(rng: random.Random, stat: RTTStat, noise: float) -> float:
    if noise <= 0 or stat.std <= 0:
        return stat.avg
    return max(stat.min, rng.gauss(stat.avg, stat.std * noise))


@define
class _MA:
    site: Site
    normal: int = 0
    premium: int = 0
    sequence: int = 0


class LSSimulation:
    """
    One LS replica (an L{LSCore}) serving the workload, in simulated time.

    The simulation plays the parts of the MAs, the clients and the network
    around the core and carries out the core's effects as C{lin6-ls} does
    (L{lin6twisted.ls.server.LSServer.apply}): L{SendRTTRequest} starts a
    measurement, L{Answer} and L{Refuse} reach the client, the core's
    timers run at L{LSCore.nextWakeup}.  Peer effects (L{RelayHeartbeat},
    L{PropagateAnswer}) are counted: there is a single replica.
    """

    def __init__(
        self,
        scenario: SelectionScenario,
        matrix: RTTMatrix,
        sites: Sequence[Site],
        clients: Sequence[Client],
    ) -> None:
        self.scenario = scenario
        self.matrix = matrix
        self.sites = list(sites)
        self.clients = list(clients)
        self.core = LSCore(scenario.settings, name="selection")
        self.rng = _stream(scenario.seed, "noise")
        self._events: list[tuple[float, int, int, Callable[[float], None]]] = []
        self._seq = itertools.count()
        self._wakeAt: float | None = None
        self._mas = {s.address: _MA(s) for s in self.sites}
        self._byAddress = {s.address: s for s in self.sites}
        self._clientsByAddress = {c.address: c for c in self.clients}
        self.result: list[int | None] = [None] * len(self.clients)
        self.measured: list[float] = [math.nan] * len(self.clients)
        self.cached = 0
        self.refusals: dict[str, int] = {}
        self.notifications = 0
        self.peerEffects = 0
        self._open = len(self.clients)

    def _oneWay(self, a: str, b: str) -> float:
        return self.matrix.oneWay(a, b) / 1000.0

    def _at(self, when: float, action: Callable[[float], None], priority: int = 1) -> None:
        heapq.heappush(self._events, (when, priority, next(self._seq), action))

    def run(self) -> Assignment:
        """
        Run the whole workload; return what the LS gave each client.
        """
        interval = self.scenario.heartbeatInterval
        for i, site in enumerate(self.sites):
            # MAs start before the clients, with staggered heartbeat phases.
            phase = interval * i / len(self.sites)
            self._at(phase, self._heartbeatSender(self._mas[site.address]), 0)
        # Clients come once every MA has heartbeated (and been heard) once.
        start = interval + 1.0
        for client in self.clients:
            self._at(start + client.arrival, self._arrival(client))
        while self._events and self._open > 0:
            when, _, _, action = heapq.heappop(self._events)
            action(when)
        return Assignment(
            self.result,
            {
                "counters": dict(self.core.counters),
                "cached_answers": self.cached,
                "refusals": dict(self.refusals),
                "notifications": self.notifications,
                "mean_measured_ms": _mean([m for m in self.measured if not math.isnan(m)]),
                "core_load_index": {
                    s.name: st.loadIndex(self.scenario.settings)
                    for s in self.sites
                    if (st := self.core.ma(s.address)) is not None
                },
            },
        )

    # -- the MAs ------------------------------------------------------------

    def _heartbeatSender(self, ma: _MA) -> Callable[[float], None]:
        def send(now: float) -> None:
            ma.sequence += 1
            report = HeartbeatReport(
                ma.site.address,
                ma.normal,
                ma.premium,
                ma.site.capacity,
                1,
                ma.sequence,
                7000,
                round(self.scenario.heartbeatInterval),
            )
            delay = self._oneWay(self.scenario.lsCountry, ma.site.country)
            self._at(now + delay, lambda t: self._apply(t, self.core.heartbeat(t, report)), 0)
            self._at(now + self.scenario.heartbeatInterval, send, 0)

        return send

    def _measure(self, now: float, effect: SendRTTRequest) -> None:
        client = self._clientsByAddress[effect.target]
        site = self._byAddress[effect.ma]
        stat = self.matrix.stat(client.country, site.country)
        # lin6-ls gives the MA 80% of its own deadline to ping (LSServer._probe).
        timeout = 0.8 * self.scenario.settings.rttTimeout
        samples = [
            _sample(self.rng, stat, self.scenario.noise) / 1000.0
            for _ in range(self.scenario.pings)
        ]
        back = [s for s in samples if s <= timeout]
        delay = self._oneWay(self.scenario.lsCountry, site.country)
        took = max(back) if len(back) == len(samples) else timeout
        rttMs = 1000.0 * sum(back) / len(back) if back else None

        def reply(now: float) -> None:
            self._apply(now, self.core.rttReply(now, effect.ma, effect.probeId, rttMs))

        self._at(now + 2 * delay + took, reply)

    # -- the clients ---------------------------------------------------------

    def _arrival(self, client: Client) -> Callable[[float], None]:
        def arrive(now: float) -> None:
            query = Query(client.address, client.nodeID, client.level, (client.index + 1) & _U32)
            self._apply(now, self.core.query(now, query))

        return arrive

    def _register(self, client: Client, site: Site) -> Callable[[float], None]:
        def register(now: float) -> None:
            ma = self._mas[site.address]
            if client.level is ServiceLevel.PREMIUM:
                ma.premium += 1
            else:
                ma.normal += 1

        return register

    # -- effects, as LSServer.apply carries them out ---------------------------

    def _apply(self, now: float, effects: Sequence[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, SendRTTRequest):
                self._measure(now, effect)
            elif isinstance(effect, Answer):
                client = self.clients[effect.query.requestId - 1]
                site = self._byAddress[effect.ma]
                self.result[client.index] = site.index
                self.measured[client.index] = effect.rttMs if not effect.cached else math.nan
                self.cached += effect.cached
                self._open -= 1
                arrives = self._oneWay(self.scenario.lsCountry, client.country)
                arrives += self._oneWay(client.country, site.country)
                self._at(now + arrives, self._register(client, site))
            elif isinstance(effect, Refuse):
                self.refusals[effect.reason.name] = self.refusals.get(effect.reason.name, 0) + 1
                self._open -= 1
            elif isinstance(effect, NotifyAssignment):
                # The MA only logs the notice; it counts the client when it
                # registers (scheduled with the Answer above).
                self.notifications += 1
            elif isinstance(effect, PropagateAnswer | RelayHeartbeat):
                self.peerEffects += 1
        self._reschedule(now)

    def _reschedule(self, now: float) -> None:
        at = self.core.nextWakeup()
        if at is None or (self._wakeAt is not None and self._wakeAt <= at and self._wakeAt >= now):
            return
        self._wakeAt = at

        def tick(t: float) -> None:
            if self._wakeAt == at:
                self._wakeAt = None
            self._apply(t, self.core.tick(t))

        self._at(max(at, now), tick, 2)


# -- evaluation ----------------------------------------------------------------


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else math.nan


def percentile(values: Sequence[float], q: float) -> float:
    """
    The C{q}-th percentile (0 < q <= 100) by the nearest-rank method.
    """
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[rank - 1]


@frozen
class PolicyResult:
    """
    How one policy did.

    @ivar meanMs: mean RTT of the served clients to their sites.
    @ivar p95Ms: their 95th percentile RTT.
    @ivar loads: the load index each site ends with (load units).
    @ivar maxLoadRatio: the highest C{load / limit} over the sites.
    """

    name: str
    served: int
    refused: int
    meanMs: float
    p95Ms: float
    loads: tuple[float, ...]
    maxLoadRatio: float
    detail: dict[str, Any] = field(factory=dict)


def evaluate(
    name: str,
    assignment: Assignment,
    clients: Sequence[Client],
    sites: Sequence[Site],
    settings: LSSettings,
    matrix: RTTMatrix,
) -> PolicyResult:
    """
    Client RTTs (true matrix means) and site loads of an assignment.
    """
    rtts = []
    loads = [0.0] * len(sites)
    for client, siteIndex in zip(clients, assignment.sites, strict=True):
        if siteIndex is None:
            continue
        site = sites[siteIndex]
        rtts.append(matrix.rtt(client.country, site.country))
        loads[siteIndex] += settings.weight(client.level)
    ratio = max((load / s.limit for load, s in zip(loads, sites, strict=True)), default=0.0)
    return PolicyResult(
        name,
        len(rtts),
        len(clients) - len(rtts),
        _mean(rtts),
        percentile(rtts, 95),
        tuple(loads),
        ratio,
        dict(assignment.detail),
    )


@frozen
class SelectionReport:
    """
    The outcome of a scenario: every policy's result and the set-up.
    """

    scenario: SelectionScenario
    sites: tuple[Site, ...]
    workload: Workload
    results: dict[str, PolicyResult]

    def overOptimal(self, name: str) -> float:
        """
        A policy's mean client RTT divided by the optimal one.
        """
        best = self.results["optimal"].meanMs
        return self.results[name].meanMs / best if best > 0 else math.nan

    def toJSON(self) -> dict[str, Any]:
        """
        The report as JSON-ready data.
        """
        sc = self.scenario
        clients = self.workload.clients
        premium = sum(1 for c in clients if c.level is ServiceLevel.PREMIUM)
        demand = sum(sc.settings.weight(c.level) for c in clients)
        return {
            "scenario": {
                "path": sc.path,
                "seed": sc.seed,
                "clients": len(clients),
                "premium_clients": premium,
                "client_countries": len(self.workload.countries),
                "excluded_countries": list(self.workload.excluded),
                "prefixes_per_country": sc.prefixesPerCountry,
                "arrival_interval_s": sc.arrivalInterval,
                "ls_country": sc.lsCountry,
                "noise": sc.noise,
                "pings": sc.pings,
                "heartbeat_interval_s": sc.heartbeatInterval,
                "demand_load": demand,
                "wt_normal": sc.settings.weightNormal,
                "wt_premium": sc.settings.weightPremium,
                "th_load": sc.settings.threshold,
                "history_lifetime_s": sc.settings.historyLifetime,
                "rtt_timeout_s": sc.settings.rttTimeout,
                "load_price": sc.settings.loadPrice,
            },
            "sites": [
                {
                    "name": s.name,
                    "country": s.country,
                    "capacity": s.capacity,
                    "limit": s.limit,
                    "address": str(s.address),
                }
                for s in self.sites
            ],
            "policies": {
                name: {
                    "served": r.served,
                    "refused": r.refused,
                    "mean_rtt_ms": r.meanMs,
                    "p95_rtt_ms": r.p95Ms,
                    "mean_over_optimal": self.overOptimal(name),
                    "max_load_over_threshold": r.maxLoadRatio,
                    "loads": {s.name: load for s, load in zip(self.sites, r.loads, strict=True)},
                    "detail": r.detail,
                }
                for name, r in self.results.items()
            },
        }

    def formatTable(self) -> str:
        """
        The human-readable report C{lin6 lab selection} prints.
        """
        sc = self.scenario
        clients = self.workload.clients
        premium = sum(1 for c in clients if c.level is ServiceLevel.PREMIUM)
        demand = sum(sc.settings.weight(c.level) for c in clients)
        limits = sum(s.limit for s in self.sites)
        lines = [
            f"Selection quality: {sc.path} (seed {sc.seed})",
            f"  {len(clients)} clients ({premium} premium) from "
            f"{len(self.workload.countries)} countries"
            f" ({len(self.workload.excluded)} left out for missing RTT data),"
            f" {sc.prefixesPerCountry} /64s per country, one every {sc.arrivalInterval:g}s",
            f"  {len(self.sites)} sites; demand {demand:g} of {limits:g} load units"
            f" ({100 * demand / limits:.0f}%); TH_load {sc.settings.threshold:g},"
            f" wt_normal {sc.settings.weightNormal:g}, wt_premium {sc.settings.weightPremium:g}",
            f"  LS in {sc.lsCountry}; {sc.pings} pings per RTT measurement,"
            f" noise {sc.noise:g} x rtt_std",
            "",
            f"  {'policy':<12} {'served':>7} {'refused':>7} {'mean ms':>8} {'p95 ms':>8}"
            f" {'/optimal':>8} {'max load/limit':>14}",
        ]
        for name, r in self.results.items():
            lines.append(
                f"  {name:<12} {r.served:>7} {r.refused:>7} {r.meanMs:>8.1f} {r.p95Ms:>8.1f}"
                f" {self.overOptimal(name):>8.3f} {r.maxLoadRatio:>14.3f}"
            )
        lines += ["", "  site loads (load units):"]
        header = f"  {'site':<10} {'country':<7} {'limit':>7}" + "".join(
            f" {name:>12}" for name in self.results
        )
        lines.append(header)
        for s in self.sites:
            lines.append(
                f"  {s.name:<10} {s.country:<7} {s.limit:>7g}"
                + "".join(f" {r.loads[s.index]:>12g}" for r in self.results.values())
            )
        ls = self.results.get("ls")
        if ls is not None:
            counters = ls.detail.get("counters", {})
            lines += [
                "",
                "  LS core: {queries} queries, {hits} history hits, {misses} misses,"
                " {decisions} decisions, {rtt_requests} RTT requests,"
                " {rtt_replies_late} late replies, {refusals} refusals".format(
                    **{
                        k: counters.get(k, 0)
                        for k in (
                            "queries",
                            "hits",
                            "misses",
                            "decisions",
                            "rtt_requests",
                            "rtt_replies_late",
                            "refusals",
                        )
                    }
                ),
            ]
        return "\n".join(lines) + "\n"


def runScenario(scenario: SelectionScenario, matrix: RTTMatrix) -> SelectionReport:
    """
    Run every policy on the scenario's workload.

    @raise SelectionError: if the workload cannot be built or does not fit.
    """
    sites = makeSites(scenario)
    workload = makeWorkload(scenario, matrix, sites)
    clients = workload.clients
    settings = scenario.settings
    assignments = {
        "optimal": optimalAssignment(clients, sites, settings, matrix),
        "ls": LSSimulation(scenario, matrix, sites, clients).run(),
        "greedy": greedyAssignment(clients, sites, settings, matrix),
        "round-robin": roundRobinAssignment(clients, sites, settings),
        "random": randomAssignment(clients, sites, settings, _stream(scenario.seed, "random")),
    }
    results = {
        name: evaluate(name, assignments[name], clients, sites, settings, matrix)
        for name in POLICIES
    }
    return SelectionReport(scenario, tuple(sites), workload, results)


# -- command line ----------------------------------------------------------------


class Options(Command):
    """
    C{lin6 lab selection [--scenario FILE] [--json FILE]}.
    """

    synopsis = "[--scenario FILE] [--json FILE]"
    longdesc = (
        "Simulate client arrivals on the RIPE Atlas RTT matrix and compare the LS "
        "heuristic with round robin, random and the optimal assignment."
    )
    optParameters = [
        ["scenario", "s", None, "Scenario file (default: etc/lab/selection.toml)."],
        ["json", "j", "selection-report.json", "Write the JSON report here ('-': do not)."],
        ["matrix", None, None, "RTT matrix (gzipped CSV; default: the shipped one)."],
    ]

    def postOptions(self) -> None:
        if self["scenario"] is None:
            self["scenario"] = str(defaultScenarioPath())


def runSelection(
    scenarioPath: str | Path,
    out: IO[str],
    jsonPath: str | Path | None = None,
    matrixPath: str | Path | None = None,
) -> int:
    """
    Run a scenario file, write the table to C{out} and, if C{jsonPath} is
    given, the JSON report there.

    @return: the exit status: 0 when it ran, 2 on a bad scenario or matrix.
    """
    try:
        matrix = RTTMatrix.load(matrixPath)
        scenario = loadScenario(scenarioPath, matrix)
        report = runScenario(scenario, matrix)
    except (ConfigError, MatrixError, SelectionError) as e:
        out.write(f"lin6 lab selection: {e}\n")
        return 2
    out.write(report.formatTable())
    if jsonPath is not None:
        Path(jsonPath).write_text(json.dumps(report.toJSON(), indent=2) + "\n")
        out.write(f"\nJSON report written to {jsonPath}\n")
    return 0


def run(options: usage.Options, out: IO[str] | None = None) -> int:
    """
    The C{lin6 lab selection} entry point (for the lab's command line).
    """
    import sys

    jsonPath = None if options["json"] == "-" else options["json"]
    return runSelection(
        options["scenario"], out if out is not None else sys.stdout, jsonPath, options["matrix"]
    )
