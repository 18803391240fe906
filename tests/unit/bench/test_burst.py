"""wrk's report read (bench/capacity.py), and the burst bench's verdicts: a group that never drained fails the target."""
import math

import pytest

from bench.burst import BurstRun, summary_figures
from bench.capacity import WrkResult, parse_wrk

WRK_REPORT = """Running 8s test @ http://127.0.0.1:8080/api/v1/organizations/org_1/portal_links
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    43.61ms   18.20ms 161.52ms   71.43%
    Req/Sec   183.81     32.40   252.00     70.00%
  Latency Distribution
     50%   41.17ms
     75%   52.98ms
     90%   66.67ms
     99%  101.31ms
  2935 requests in 8.01s, 1.67MB read
  Non-2xx or 3xx responses: 3
Requests/sec:    366.44
Transfer/sec:    213.21KB
"""


def test_the_rate_the_p99_and_the_refusals_are_read_from_wrks_report():
    assert parse_wrk(WRK_REPORT) == WrkResult(366.44, 101.31, 3)
    slow = WRK_REPORT.replace("101.31ms", "1.20s").replace("  Non-2xx or 3xx responses: 3\n", "")
    assert parse_wrk(slow) == WrkResult(366.44, 1200.0, 0)
    with pytest.raises(ValueError):
        parse_wrk("wrk: unable to connect to 127.0.0.1:8080 Connection refused")


def test_a_slow_revocation_or_a_group_that_never_drained_misses_its_target():
    quick = BurstRun(8.0, WrkResult(366.0, 101.0, 0), during_s=[0.1, 0.2], after_s=[0.05],
                     drained_s={"portico-audit": 0.4, "portico-portal-session": 1.5})
    revocation, drained = summary_figures(quick)
    assert (revocation.met, drained.met) == (True, True) and drained.values == (1.5,)
    stuck = BurstRun(8.0, WrkResult(366.0, 101.0, 0), during_s=[0.1, 17.0], after_s=[2.3],
                     drained_s={"portico-audit": 0.4, "portico-portal-session": None})
    revocation, drained = summary_figures(stuck)
    assert revocation.met is False and revocation.values == (2300.0, 17000.0)
    assert drained.met is False and math.isnan(drained.values[0])
    assert summary_figures(BurstRun(8.0, not_measured="wrk is not installed"))[0].met is None


def test_each_group_is_shown_consuming_beside_what_arrived_on_its_topics():
    from bench.burst import rates, report
    start = {"portico-audit": (1_000, 1_000), "portico-portal-session": (500, 500)}
    end = {"portico-audit": (3_000, 3_400), "portico-portal-session": (2_500, 2_500), "portico-link-issuer": (9, 9)}
    measured = rates(start, end, 4.0)
    assert measured == {"portico-audit": (500.0, 600.0), "portico-portal-session": (500.0, 500.0)}
    run = BurstRun(8.0, WrkResult(500.0, 90.0, 0), during_s=[0.1], after_s=[0.1], group_rates=measured, outbox_left=12)
    rows = {row["measure"]: row["value"] for row in report(run)}
    assert rows["portico-audit during the burst: committed / arriving on its topics"] == "500/s of 600/s"
    assert rows["link-issuer's outbox rows not yet published when wrk stopped"] == "12"
