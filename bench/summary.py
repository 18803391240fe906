"""The one summary table of `make bench`: each figure beside its baseline from the same run, and their ratio."""
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from bench.stats import percentile


@dataclass(frozen=True)
class Figure:
    """A measured figure (one value, or several such as p50/p99/p99.9) and the baseline it is compared with."""

    name: str
    values: tuple[float, ...]
    unit: str
    baseline_name: str = ""
    baseline: tuple[float, ...] = ()
    target: str = ""
    met: bool | None = None  # None: no target

    @property
    def ratios(self) -> tuple[float, ...]:
        return tuple(ratio(v, b) for v, b in zip(self.values, self.baseline, strict=False))


def ratio(value: float, baseline: float) -> float:
    """value / baseline, or NaN when there is no usable baseline."""
    if not math.isfinite(value) or not math.isfinite(baseline) or baseline <= 0:
        return math.nan
    return value / baseline


def _number(value: float) -> str:
    if not math.isfinite(value):
        return "n/a"
    if abs(value) >= 100 or value.is_integer():
        return f"{value:,.0f}"
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"


def _joined(values: Sequence[float], unit: str) -> str:
    return " / ".join(_number(v) for v in values) + (f" {unit}" if values and unit else "")


def verdict(met: bool | None) -> str:
    return "" if met is None else ("met" if met else "NOT met")


def figure_row(figure: Figure) -> dict[str, object]:
    return {
        "figure": figure.name,
        "value": _joined(figure.values, figure.unit),
        "baseline": f"{figure.baseline_name}: {_joined(figure.baseline, figure.unit)}" if figure.baseline else "",
        "ratio": " / ".join("n/a" if math.isnan(r) else f"{r:.2f}x" for r in figure.ratios),
        "target": figure.target,
        "verdict": verdict(figure.met),
    }


def figure_record(figure: Figure) -> dict[str, object]:
    """The figure as JSON-ready numbers (NaN becomes null)."""
    record = asdict(figure) | {"ratios": figure.ratios}
    return {key: _finite(value) for key, value in record.items()}


def _finite(value: object) -> object:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, tuple | list):
        return [_finite(v) for v in value]
    return value


def latency_ms(samples: Sequence[float], percentiles: Sequence[float] = (50, 99, 99.9)) -> tuple[float, ...]:
    """Percentiles of samples in seconds, as milliseconds."""
    return tuple(percentile(samples, p) * 1000 for p in percentiles)


def pair_sums(samples: Sequence[float]) -> list[float]:
    """Durations of two consecutive requests: the baseline for a figure that is itself two requests."""
    return [a + b for a, b in zip(samples[::2], samples[1::2], strict=False)]
