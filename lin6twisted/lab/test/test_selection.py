"""
Tests for L{lin6twisted.lab.selection} and L{lin6twisted.bench.selection}.
"""

from __future__ import annotations

import io
import itertools
import json
import random
from ipaddress import IPv6Address
from pathlib import Path

import attrs
from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase

from lin6twisted.address import NodeID
from lin6twisted.bench import Recorder
from lin6twisted.bench import selection as bench
from lin6twisted.config import ConfigError
from lin6twisted.directory import ServiceLevel
from lin6twisted.lab.ripe import RTTMatrix
from lin6twisted.lab.selection import (
    Client,
    LSSimulation,
    Options,
    SelectionError,
    SelectionScenario,
    Site,
    SiteSpec,
    defaultScenarioPath,
    evaluate,
    greedyAssignment,
    loadScenario,
    makeSites,
    makeWorkload,
    optimalAssignment,
    percentile,
    randomAssignment,
    roundRobinAssignment,
    runScenario,
    runSelection,
)
from lin6twisted.ls.core import LSSettings

HEADER = ["cty1", "cty2", "rtt_cnt", "rtt_avg", "rtt_std", "rtt_min", "rtt_max"]

# Clients in AA and BB, sites in CC and DD, the LS in CC.  EE has no data
# to DD.
PAIRS = {
    ("AA", "CC"): 10.0,
    ("AA", "DD"): 100.0,
    ("BB", "CC"): 20.0,
    ("BB", "DD"): 30.0,
    ("CC", "CC"): 2.0,
    ("CC", "DD"): 50.0,
    ("EE", "CC"): 5.0,
}


def smallMatrix(pairs: dict[tuple[str, str], float] = PAIRS, std: float = 0.0) -> RTTMatrix:
    """
    A matrix with the given mean RTTs (and C{std} for every pair).
    """
    rows = [HEADER]
    for (a, b), rtt in pairs.items():
        rows.append([a, b, "100", str(rtt), str(std), str(rtt / 2), str(rtt * 3)])
    return RTTMatrix.fromRows(rows)


def scenario(
    sites: tuple[tuple[str, int], ...] = (("CC", 1), ("DD", 1)), **kw: object
) -> SelectionScenario:
    """
    A scenario on L{smallMatrix} with noise off and the LS in CC.
    """
    specs = tuple(SiteSpec(f"s{i}", c, cap) for i, (c, cap) in enumerate(sites))
    defaults: dict[str, object] = {"lsCountry": "CC", "noise": 0.0, "heartbeatInterval": 5.0}
    defaults.update(kw)
    return SelectionScenario(specs, LSSettings(threshold=100.0), **defaults)  # type: ignore[arg-type]


def client(index: int, country: str, level: ServiceLevel = ServiceLevel.NORMAL) -> Client:
    """
    A client of C{country}, arriving C{index} tenths of a second in, in its
    own /64.
    """
    node = NodeID(0x02014A0000000000 | (index + 1))
    prefix = 0x20010DB8_0000_0000 | (index + 1)
    return Client(
        index, country, level, node, IPv6Address((prefix << 64) | node.value), index * 0.1
    )


def writeScenario(testCase: SynchronousTestCase, text: str) -> Path:
    path = Path(testCase.mktemp())
    path.write_text(text)
    return path


VALID = """
[simulation]
seed = 7
ls_country = "CC"
heartbeat_interval = "5s"
noise = 0

[ls]
th_load = 50
history_lifetime = "60s"

[clients]
count = 40
arrival_interval = "100ms"
premium_share = 0.5
prefixes_per_country = 2
default_weight = 0

[clients.weights]
AA = 3
BB = 1

[[site]]
name = "c"
country = "CC"
capacity = 40

[[site]]
name = "d"
country = "DD"
capacity = 40
"""


class ScenarioTests(SynchronousTestCase):
    """
    Scenario files are read with the config framework; mistakes are
    L{ConfigError}s naming the key.
    """

    def test_valid(self) -> None:
        """
        Every key of a valid file lands in the scenario.
        """
        sc = loadScenario(writeScenario(self, VALID), smallMatrix())
        self.assertEqual(
            (sc.seed, sc.lsCountry, sc.heartbeatInterval, sc.noise, sc.clients),
            (7, "CC", 5.0, 0.0, 40),
        )
        self.assertEqual(
            (sc.arrivalInterval, sc.premiumShare, sc.prefixesPerCountry), (0.1, 0.5, 2)
        )
        self.assertEqual(sc.weights, {"AA": 3.0, "BB": 1.0})
        self.assertEqual(sc.defaultWeight, 0.0)
        self.assertEqual(sc.settings.threshold, 50.0)
        self.assertEqual(sc.settings.historyLifetime, 60.0)
        self.assertEqual(sc.sites, (SiteSpec("c", "CC", 40), SiteSpec("d", "DD", 40)))

    def test_shipped(self) -> None:
        """
        The shipped scenario loads against the shipped matrix.
        """
        sc = loadScenario(defaultScenarioPath(), RTTMatrix.load())
        self.assertGreaterEqual(len(sc.sites), 3)
        self.assertGreaterEqual(sc.clients, 500)

    def assertBad(self, old: str, new: str, *fragments: str) -> None:
        self.assertIn(old, VALID)
        path = writeScenario(self, VALID.replace(old, new))
        e = self.assertRaises(ConfigError, loadScenario, path, smallMatrix())
        for fragment in fragments:
            self.assertIn(fragment, str(e))

    def test_unknownKey(self) -> None:
        """
        A misspelt key is refused.
        """
        self.assertBad("noise = 0", "nosie = 0", "nosie", "unknown key")

    def test_unknownCountry(self) -> None:
        """
        A site or weight in a country the matrix does not know is refused.
        """
        self.assertBad(
            'country = "DD"', 'country = "ZZ"', "country", "ZZ", "not in the RTT matrix"
        )
        self.assertBad("AA = 3", "ZZ = 3", "weights", "ZZ")

    def test_notACountry(self) -> None:
        """
        A country must be a two-letter code.
        """
        self.assertBad('ls_country = "CC"', 'ls_country = "CCC"', "ls_country", "two-letter")

    def test_duplicateSite(self) -> None:
        """
        Site names are unique.
        """
        self.assertBad('name = "d"', 'name = "c"', "site[2]", "used twice")

    def test_noSite(self) -> None:
        """
        At least one site is required.
        """
        path = writeScenario(self, VALID.split("[[site]]")[0])
        e = self.assertRaises(ConfigError, loadScenario, path, smallMatrix())
        self.assertIn("at least one [[site]]", str(e))

    def test_badNumbers(self) -> None:
        """
        Capacities, shares, counts and weights are range-checked.
        """
        self.assertBad("capacity = 40\n\n[[site]]", "capacity = 0\n\n[[site]]", "capacity")
        self.assertBad("premium_share = 0.5", "premium_share = 1.5", "premium_share")
        self.assertBad("count = 40", "count = 0", "count")
        self.assertBad("BB = 1", "BB = -1", "BB")
        self.assertBad("th_load = 50", 'th_load = "lots"', "th_load")

    def test_noWeight(self) -> None:
        """
        A scenario where every country has weight 0 is refused.
        """
        self.assertBad("AA = 3\nBB = 1", "AA = 0\nBB = 0", "weights", "weight 0")

    def test_timeoutVsHeartbeat(self) -> None:
        """
        An MA timeout no longer than the heartbeat interval is refused.
        """
        self.assertBad('history_lifetime = "60s"', 'ma_timeout = "5s"', "ma_timeout")

    def test_lsWithoutData(self) -> None:
        """
        The LS must have RTT data to every site.
        """
        self.assertBad('ls_country = "CC"', 'ls_country = "EE"', "no RTT data", "EE")

    def test_badTOML(self) -> None:
        """
        A syntax error names the line.
        """
        path = writeScenario(self, "[clients\ncount = 1\n")
        e = self.assertRaises(ConfigError, loadScenario, path, smallMatrix())
        self.assertEqual(e.line, 1)

    def test_missingFile(self) -> None:
        """
        A missing file is a L{ConfigError}.
        """
        self.assertRaises(ConfigError, loadScenario, self.mktemp(), smallMatrix())


class WorkloadTests(SynchronousTestCase):
    """
    Clients are drawn by weight, repeatably, from countries with data.
    """

    def test_weightsAndDeterminism(self) -> None:
        """
        Countries of weight 0 never appear; countries without data to every
        site are left out; the same seed draws the same clients.
        """
        sc = scenario(clients=200, weights={"AA": 1.0, "BB": 0.0}, defaultWeight=1.0)
        sites = makeSites(sc)
        workload = makeWorkload(sc, smallMatrix(), sites)
        self.assertEqual(workload.countries, ("AA", "CC"))
        self.assertEqual(workload.excluded, ("DD", "EE"))
        self.assertEqual({c.country for c in workload.clients}, {"AA", "CC"})
        self.assertEqual(workload, makeWorkload(sc, smallMatrix(), sites))
        other = makeWorkload(attrs.evolve(sc, seed=2), smallMatrix(), sites)
        self.assertNotEqual(workload.clients, other.clients)

    def test_prefixes(self) -> None:
        """
        A country's clients come from at most C{prefixes_per_country} /64s;
        their addresses end in their Node IDs.
        """
        sc = scenario(clients=100, weights={"AA": 1.0}, defaultWeight=0.0, prefixesPerCountry=3)
        workload = makeWorkload(sc, smallMatrix(), makeSites(sc))
        prefixes = {int(c.address) >> 64 for c in workload.clients}
        self.assertEqual(len(prefixes), 3)
        for c in workload.clients:
            self.assertEqual(NodeID.ofAddress(c.address), c.nodeID)
            self.assertTrue(c.nodeID.isMobile)

    def test_premiumShare(self) -> None:
        """
        The share of premium clients follows C{premium_share}.
        """
        sc = scenario(clients=400, premiumShare=0.25, weights={"AA": 1.0}, defaultWeight=0.0)
        workload = makeWorkload(sc, smallMatrix(), makeSites(sc))
        premium = sum(c.level is ServiceLevel.PREMIUM for c in workload.clients)
        self.assertTrue(60 < premium < 140, premium)

    def test_weightedWithoutData(self) -> None:
        """
        A country given a weight but without data to every site is an error.
        """
        sc = scenario(weights={"EE": 1.0}, defaultWeight=0.0)
        e = self.assertRaises(SelectionError, makeWorkload, sc, smallMatrix(), makeSites(sc))
        self.assertIn("EE", str(e))


def rtts(assignment: list[int | None], clients: list[Client], sites: list[Site]) -> list[float]:
    m = smallMatrix()
    return [
        m.rtt(c.country, sites[s].country) if s is not None else -1.0
        for c, s in zip(clients, assignment, strict=True)
    ]


class PolicyTests(SynchronousTestCase):
    """
    The baseline policies and the optimal solver on instances small enough
    to check by hand.

    Two sites (CC, DD) of capacity 1; Y (BB: 20 ms to CC, 30 to DD) comes
    before X (AA: 10 ms to CC, 100 to DD).  Greedy gives Y CC and X DD
    (mean 60 ms); the optimum is X at CC and Y at DD (mean 20 ms).
    """

    def setUp(self) -> None:
        self.sc = scenario()
        self.sites = makeSites(self.sc)
        self.clients = [client(0, "BB"), client(1, "AA")]
        self.m = smallMatrix()

    def test_limits(self) -> None:
        """
        A site's limit is the core's: C{min(TH_load, capacity)}.
        """
        sc = scenario(sites=(("CC", 1000), ("DD", 3)))
        self.assertEqual([s.limit for s in makeSites(sc)], [100.0, 3.0])

    def test_greedy(self) -> None:
        """
        Greedy takes the nearest site with room, in arrival order.
        """
        a = greedyAssignment(self.clients, self.sites, self.sc.settings, self.m)
        self.assertEqual(a.sites, [0, 1])
        self.assertEqual(rtts(a.sites, self.clients, self.sites), [20.0, 100.0])

    def test_optimal(self) -> None:
        """
        The optimum swaps them.
        """
        a = optimalAssignment(self.clients, self.sites, self.sc.settings, self.m)
        self.assertEqual(a.sites, [1, 0])
        self.assertAlmostEqual(a.detail["objective_ms"], 40.0)

    def test_optimalWeights(self) -> None:
        """
        A premium client weighs C{wt_premium}: with two sites of capacity 2,
        a normal client from BB then a premium one from AA, greedy sends the
        premium one far away (CC has 1 unit left), the optimum does not.
        """
        sites = makeSites(scenario(sites=(("CC", 2), ("DD", 2))))
        clients = [client(0, "BB"), client(1, "AA", ServiceLevel.PREMIUM)]
        greedy = greedyAssignment(clients, sites, self.sc.settings, self.m)
        best = optimalAssignment(clients, sites, self.sc.settings, self.m)
        self.assertEqual(greedy.sites, [0, 1])
        self.assertEqual(best.sites, [1, 0])
        self.assertEqual(
            evaluate("optimal", best, clients, sites, self.sc.settings, self.m).loads, (2.0, 1.0)
        )

    def test_optimalInfeasible(self) -> None:
        """
        If the clients cannot all fit, there is no optimum.
        """
        clients = [*self.clients, client(2, "AA")]
        self.assertRaises(
            SelectionError, optimalAssignment, clients, self.sites, self.sc.settings, self.m
        )

    def test_optimalBruteForce(self) -> None:
        """
        On random small instances the solver's total equals the best of
        every capacity-respecting assignment.
        """
        rng = random.Random(3)  # noqa: S311 - test data
        countries = ["AA", "BB", "CC", "DD"]
        for _ in range(30):
            pairs = {
                (a, b): float(rng.randint(1, 200))
                for i, a in enumerate(countries)
                for b in countries[i:]
            }
            m = smallMatrix(pairs)
            sc = scenario(sites=tuple((c, rng.randint(1, 4)) for c in ("AA", "CC", "DD")))
            sites = makeSites(sc)
            clients = [
                client(i, rng.choice(countries), rng.choice(list(ServiceLevel)))
                for i in range(rng.randint(1, 5))
            ]
            best = None
            for choice in itertools.product(range(len(sites)), repeat=len(clients)):
                load = [0.0] * len(sites)
                for c, s in zip(clients, choice, strict=True):
                    load[s] += sc.settings.weight(c.level)
                if any(load[s.index] > s.limit for s in sites):
                    continue
                total = sum(
                    m.rtt(c.country, sites[s].country)
                    for c, s in zip(clients, choice, strict=True)
                )
                best = total if best is None else min(best, total)
            if best is None:
                self.assertRaises(
                    SelectionError, optimalAssignment, clients, sites, sc.settings, m
                )
                continue
            a = optimalAssignment(clients, sites, sc.settings, m)
            got = evaluate("optimal", a, clients, sites, sc.settings, m)
            self.assertEqual(got.refused, 0)
            self.assertLessEqual(got.maxLoadRatio, 1.0)
            self.assertAlmostEqual(got.meanMs * len(clients), best)

    def test_roundRobin(self) -> None:
        """
        Round robin takes the sites in turn, skipping full ones.
        """
        sites = makeSites(scenario(sites=(("CC", 1), ("DD", 5))))
        clients = [client(i, "AA") for i in range(4)]
        a = roundRobinAssignment(clients, sites, self.sc.settings)
        self.assertEqual(a.sites, [0, 1, 1, 1])

    def test_random(self) -> None:
        """
        Random respects the limits and repeats with the same seed.
        """
        sites = makeSites(scenario(sites=(("CC", 3), ("DD", 3))))
        clients = [client(i, "AA") for i in range(6)]
        a = randomAssignment(clients, sites, self.sc.settings, random.Random(1))  # noqa: S311
        b = randomAssignment(clients, sites, self.sc.settings, random.Random(1))  # noqa: S311
        self.assertEqual(a.sites, b.sites)
        self.assertEqual(sorted(a.sites), [0, 0, 0, 1, 1, 1])

    def test_refusals(self) -> None:
        """
        A client no site has room for is refused, and counted.
        """
        clients = [*self.clients, client(2, "AA")]
        a = greedyAssignment(clients, self.sites, self.sc.settings, self.m)
        self.assertEqual(a.sites, [0, 1, None])
        r = evaluate("greedy", a, clients, self.sites, self.sc.settings, self.m)
        self.assertEqual((r.served, r.refused), (2, 1))
        self.assertEqual(r.meanMs, 60.0)

    def test_percentile(self) -> None:
        """
        Percentiles use the nearest rank.
        """
        values = [float(v) for v in range(1, 101)]
        self.assertEqual(percentile(values, 95), 95.0)
        self.assertEqual(percentile([3.0, 1.0, 2.0], 50), 2.0)
        self.assertEqual(percentile([7.0], 95), 7.0)


class LSSimulationTests(SynchronousTestCase):
    """
    The LS core decides, driven through heartbeats, queries, RTT replies
    and its timers.
    """

    def test_nearestWithRoom(self) -> None:
        """
        Without noise, the LS decides as greedy does: Y gets CC, X (CC now
        full) gets DD; every decision went through an RTT round.
        """
        sc = scenario()
        sites = makeSites(sc)
        clients = [client(0, "BB"), client(1, "AA")]
        sim = LSSimulation(sc, smallMatrix(), sites, clients)
        a = sim.run()
        self.assertEqual(a.sites, [0, 1])
        counters = a.detail["counters"]
        self.assertEqual(
            (counters["queries"], counters["misses"], counters["decisions"]), (2, 2, 2)
        )
        # Y's round probed both sites, X's only DD (CC was full).
        self.assertEqual(counters["rtt_requests"], 3)
        self.assertGreaterEqual(counters["heartbeats"], 2)
        self.assertEqual(sim.measured, [20.0, 100.0])

    def test_historyHit(self) -> None:
        """
        A second client from the same /64, arriving after the first's
        round, is answered from the history table.
        """
        sc = scenario(sites=(("CC", 5), ("DD", 5)))
        first, second = client(0, "AA"), client(1, "AA")
        second = attrs.evolve(
            second,
            address=IPv6Address((int(first.address) >> 64 << 64) | second.nodeID.value),
            arrival=1.0,
        )
        a = LSSimulation(sc, smallMatrix(), makeSites(sc), [first, second]).run()
        self.assertEqual(a.sites, [0, 0])
        self.assertEqual(a.detail["cached_answers"], 1)
        self.assertEqual(a.detail["counters"]["hits"], 1)

    def test_joinPendingRound(self) -> None:
        """
        A client from a /64 whose round is still pending joins it and gets
        the same decision, without a new round.
        """
        sc = scenario(sites=(("CC", 5), ("DD", 5)))
        first, second = client(0, "AA"), client(1, "AA")
        second = attrs.evolve(
            second,
            address=IPv6Address((int(first.address) >> 64 << 64) | second.nodeID.value),
            arrival=0.001,
        )
        a = LSSimulation(sc, smallMatrix(), makeSites(sc), [first, second]).run()
        self.assertEqual(a.sites, [0, 0])
        counters = a.detail["counters"]
        self.assertEqual((counters["rtt_requests"], counters["decisions"]), (2, 2))

    def test_full(self) -> None:
        """
        When no MA has room the core refuses.
        """
        sc = scenario(sites=(("CC", 1),))
        clients = [client(0, "AA"), client(1, "BB")]
        a = LSSimulation(sc, smallMatrix(), makeSites(sc), clients).run()
        self.assertEqual(a.sites, [0, None])
        self.assertEqual(a.detail["refusals"], {"NO_MA_AVAILABLE": 1})

    def test_heartbeatInFlight(self) -> None:
        """
        An assignment stays counted until the MA's counts include it, even
        when a heartbeat sent before the client registered arrives after
        the decision.

        One site in DD (capacity 1, 25 ms from the LS in CC), heartbeats
        sent at 0, 5, 10 s.  The first client is decided at 9.99 s and
        registers at 10.015 s; the heartbeat sent at 10 s (without it) is
        heard at 10.025 s.  The second client, at 10.5 s, must be refused.
        """
        sc = scenario(sites=(("DD", 1),))
        first = attrs.evolve(client(0, "BB"), arrival=3.91)
        second = attrs.evolve(client(1, "BB"), arrival=4.5)
        sim = LSSimulation(sc, smallMatrix(), makeSites(sc), [first, second])
        a = sim.run()
        self.assertEqual(a.sites, [0, None])

    def test_heartbeatAfterRegistration(self) -> None:
        """
        The same two clients, the first a little earlier (registered before
        the heartbeat at 10 s is sent): the second is refused.
        """
        sc = scenario(sites=(("DD", 1),))
        first = attrs.evolve(client(0, "BB"), arrival=3.5)
        second = attrs.evolve(client(1, "BB"), arrival=4.5)
        a = LSSimulation(sc, smallMatrix(), makeSites(sc), [first, second]).run()
        self.assertEqual(a.sites, [0, None])
        self.assertEqual(a.detail["refusals"], {"NO_MA_AVAILABLE": 1})

    def test_pingTimeout(self) -> None:
        """
        Pings slower than the MA's timeout (0.8 x C{rtt_timeout}) are lost:
        an MA whose pings all time out reports no RTT and is not chosen.
        """
        sc = scenario(sites=(("CC", 5), ("DD", 5)))
        sc = attrs.evolve(sc, settings=attrs.evolve(sc.settings, rttTimeout=0.1))
        a = LSSimulation(sc, smallMatrix(), makeSites(sc), [client(0, "AA")]).run()
        self.assertEqual(a.sites, [0])
        only = attrs.evolve(sc, sites=sc.sites[1:])
        a = LSSimulation(only, smallMatrix(), makeSites(only), [client(0, "AA")]).run()
        self.assertEqual(a.sites, [None])
        self.assertEqual(a.detail["refusals"], {"NO_RTT_REPLY": 1})

    def test_noise(self) -> None:
        """
        With noise, measurements vary around the matrix mean, repeatably.
        """
        m = smallMatrix(std=10.0)
        sc = scenario(noise=1.0, sites=(("CC", 50), ("DD", 50)))
        clients = [client(i, "BB") for i in range(20)]
        first = LSSimulation(sc, m, makeSites(sc), clients)
        first.run()
        again = LSSimulation(sc, m, makeSites(sc), clients)
        again.run()
        self.assertEqual(first.measured, again.measured)
        self.assertGreater(len(set(first.measured)), 1)
        self.assertTrue(all(m >= 10.0 for m in first.measured))

    def test_loadIndex(self) -> None:
        """
        The core's load index follows the assignments (premium counts
        C{wt_premium}).
        """
        sc = scenario(sites=(("CC", 10), ("DD", 10)))
        clients = [client(0, "AA", ServiceLevel.PREMIUM), client(1, "AA")]
        a = LSSimulation(sc, smallMatrix(), makeSites(sc), clients).run()
        self.assertEqual(a.detail["core_load_index"], {"s0": 3.0, "s1": 0.0})


class ReportTests(SynchronousTestCase):
    """
    A whole scenario: every policy, the table, JSON, the command line and
    the benchmark group.
    """

    def test_runScenario(self) -> None:
        """
        Every policy is evaluated; the optimum is the best mean, and no
        policy refuses anyone when everything fits.
        """
        sc = loadScenario(writeScenario(self, VALID), smallMatrix())
        report = runScenario(sc, smallMatrix())
        self.assertEqual(
            list(report.results), ["optimal", "ls", "greedy", "round-robin", "random"]
        )
        best = report.results["optimal"].meanMs
        for name, r in report.results.items():
            self.assertEqual(r.refused, 0, name)
            self.assertGreaterEqual(r.meanMs, best - 1e-9, name)
            self.assertGreaterEqual(report.overOptimal(name), 1.0 - 1e-9)
        data = report.toJSON()
        json.dumps(data)
        self.assertEqual(data["scenario"]["clients"], 40)
        self.assertEqual(
            set(data["policies"]["ls"]),
            {
                "served",
                "refused",
                "mean_rtt_ms",
                "p95_rtt_ms",
                "mean_over_optimal",
                "max_load_over_threshold",
                "loads",
                "detail",
            },
        )
        table = report.formatTable()
        for name in report.results:
            self.assertIn(name, table)

    def test_runSelection(self) -> None:
        """
        C{runSelection} prints the table and writes the JSON report.
        """
        path = writeScenario(self, SHIPPED_SMALL)
        out = io.StringIO()
        jsonPath = Path(self.mktemp())
        self.assertEqual(runSelection(path, out, jsonPath), 0)
        self.assertIn("round-robin", out.getvalue())
        data = json.loads(jsonPath.read_text())
        self.assertEqual(data["policies"]["optimal"]["mean_over_optimal"], 1.0)

    def test_runSelectionBad(self) -> None:
        """
        A bad scenario is reported in one line, with exit status 2.
        """
        path = writeScenario(self, SHIPPED_SMALL.replace("count = 60", "count = -1"))
        out = io.StringIO()
        self.assertEqual(runSelection(path, out), 2)
        self.assertIn("count", out.getvalue())
        self.assertEqual(out.getvalue().count("\n"), 1)

    def test_options(self) -> None:
        """
        The options default to the shipped scenario and C{selection-report.json}.
        """
        options = Options()
        options.parseOptions([])
        self.assertEqual(options["scenario"], str(defaultScenarioPath()))
        self.assertEqual(options["json"], "selection-report.json")
        options = Options()
        options.parseOptions(["--scenario", "x.toml", "--json", "-"])
        self.assertEqual((options["scenario"], options["json"]), ("x.toml", "-"))
        self.assertRaises(usage.UsageError, Options().parseOptions, ["--bogus"])

    def test_bench(self) -> None:
        """
        The benchmark group records the ratios the issue asks for.
        """
        lines: list[str] = []
        recorder = Recorder(write=lines.append)
        bench.run(recorder, [f"scenario={writeScenario(self, SHIPPED_SMALL)}", "seeds=2"])
        names = {f.name for f in recorder.figures}
        for name in (
            "selection.ls_over_optimal",
            "selection.rr_over_optimal",
            "selection.random_over_optimal",
            "selection.max_load_over_threshold",
            "selection.ls_mean_ms",
            "selection.ls_p95_ms",
            "selection.optimal_mean_ms",
            "selection.ls_over_optimal_seeds_mean",
            "selection.ls_over_optimal_seeds_max",
            "selection.max_load_over_threshold_seeds_max",
        ):
            self.assertIn(name, names)
        self.assertTrue(any(line.startswith("BENCH selection.ls_over_optimal ") for line in lines))
        self.assertRaises(SystemExit, bench.parseArgs, ["bogus=1"])
        self.assertRaises(SystemExit, bench.parseArgs, ["seeds=0"])
        self.assertRaises(SystemExit, bench.parseArgs, ["--scenario"])
        self.assertEqual(bench.parseArgs(["--scenario", "a"]), {"scenario": "a"})


SHIPPED_SMALL = """
[simulation]
seed = 3
ls_country = "DE"

[ls]
th_load = 100

[clients]
count = 60
default_weight = 0

[clients.weights]
DE = 3
FR = 2
US = 3
JP = 1
BR = 1

[[site]]
name = "de"
country = "DE"
capacity = 30

[[site]]
name = "us"
country = "US"
capacity = 30

[[site]]
name = "jp"
country = "JP"
capacity = 30
"""
