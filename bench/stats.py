"""Percentiles and the table every benchmark prints (and the JSON it writes under bench/results/)."""
import json
import math
import platform
import time
from collections.abc import Sequence
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def percentile(samples: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of samples, which need not be sorted."""
    if not samples:
        return math.nan
    ordered = sorted(samples)
    rank = max(1, math.ceil(round(p / 100 * len(ordered), 9)))  # round: 99.9 / 100 * 1000 is 999.0000000000001
    return ordered[rank - 1]


def print_table(title: str, rows: list[dict[str, object]]) -> None:
    columns = list(rows[0])
    cells = [[_fmt(row[c]) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    print(f"\n{title}")
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for r in cells:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)))


def write_results(name: str, rows: list[dict[str, object]], **extra: object) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}-{time.strftime('%Y%m%dT%H%M%S')}.json"
    document = {"benchmark": name, "machine": platform.node(), "rows": rows, **extra}
    path.write_text(json.dumps(document, indent=2, default=str))
    return path


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
