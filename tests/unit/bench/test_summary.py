"""The bench summary: ratios to the baseline, the two-request baseline, and how rows are rendered."""
import math

from bench.summary import Figure, figure_record, figure_row, latency_ms, pair_sums, ratio


def test_ratio_is_figure_over_baseline():
    assert ratio(13.0, 6.5) == 2.0
    assert ratio(500.0, 1000.0) == 0.5


def test_ratio_without_a_usable_baseline_is_nan():
    assert math.isnan(ratio(1.0, 0.0))
    assert math.isnan(ratio(1.0, math.nan))
    assert math.isnan(ratio(math.inf, 2.0))


def test_figure_ratios_pair_each_value_with_its_baseline():
    figure = Figure("redeem", (6.0, 13.0, 20.0), "ms", "bare", (3.0, 6.5, 5.0))
    assert figure.ratios == (2.0, 2.0, 4.0)
    assert Figure("alone", (1.0,), "ms").ratios == ()


def test_pair_sums_add_consecutive_requests():
    assert pair_sums([1.0, 2.0, 3.0, 4.0, 5.0]) == [3.0, 7.0]


def test_latency_ms_gives_percentiles_in_milliseconds():
    samples = [i / 1000 for i in range(1, 1001)]  # 1..1000 ms
    assert latency_ms(samples) == (500.0, 990.0, 999.0)
    assert latency_ms(samples, (50, 99)) == (500.0, 990.0)


def test_row_shows_value_baseline_ratio_and_verdict():
    row = figure_row(Figure("redeem p99", (6.0, 13.0), "ms", "bare", (3.0, 6.5), "p99 ≤ 15 ms", True))
    assert row == {"figure": "redeem p99", "value": "6 / 13 ms", "baseline": "bare: 3 / 6.50 ms",
                   "ratio": "2.00x / 2.00x", "target": "p99 ≤ 15 ms", "verdict": "met"}
    assert figure_row(Figure("ingest", (4000.0,), "events/s", target="≥ 5,000/s", met=False))["verdict"] == "NOT met"


def test_record_is_json_ready_without_nan():
    record = figure_record(Figure("x", (math.nan, 2.0), "ms", "b", (1.0, 0.0)))
    assert record["values"] == [None, 2.0]
    assert record["ratios"] == [None, None]
