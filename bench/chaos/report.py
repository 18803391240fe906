"""The table a chaos run prints, and the JSON it writes under bench/results/."""
from dataclasses import asdict
from pathlib import Path

from bench.chaos.runner import Result
from bench.stats import print_table, write_results


def table_rows(results: list[Result]) -> list[dict[str, object]]:
    return [
        {
            "fault": r.scenario,
            "attempted": r.attempted,
            "succeeded": r.succeeded,
            "failed cleanly": r.clean_failures,
            "unclean": r.unclean,
            "lost": r.lost,
            "duplicated": r.duplicated,
            "redeemed twice": r.double_redemptions,
            "ready again (s)": round(r.recovered_s, 1),
            "log settled (s)": round(r.settle_s, 1),
            "took (s)": round(r.wall_s, 1),
        }
        for r in results
    ]


def report(results: list[Result], title: str) -> Path:
    print_table(title, table_rows(results))
    for r in results:
        if not r.ok:
            print(f"\n{r.scenario}: {r.details}")
        elif r.details.get("clean_failures"):
            print(f"  {r.scenario} — clean failures: {r.details['clean_failures']}")
    return write_results("chaos", [asdict(r) for r in results])
