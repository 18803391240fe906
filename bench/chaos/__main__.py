"""python -m bench.chaos [--short] [--only NAME…]: run the chaos scenarios against the running stack
(ports and URLs from PORTICO_* settings) and print the table; exit 1 if anything was lost, doubled,
redeemed twice or answered uncleanly. The stack is left up and ready either way."""
import argparse
import asyncio
import sys

from bench.chaos.faults import FaultError, is_ours
from bench.chaos.report import report
from bench.chaos.runner import Result, restore, run_scenario
from bench.chaos.scenarios import full_run, short_run
from link_issuer.accounts.admin import create_api_key
from shared.settings import Settings


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--short", action="store_true", help="the short form `make test` runs (about a minute)")
    parser.add_argument("--only", nargs="*", default=None, help="run only the scenarios with these names")
    args = parser.parse_args()
    settings = Settings()
    scenarios = short_run(settings) if args.short else full_run(settings)
    if args.only:
        scenarios = [s for s in scenarios if s.name in args.only]
    missing = sorted({c for s in scenarios for f in s.faults for c in f.components() if not is_ours(c)})
    if missing:
        raise FaultError(f"not started by deploy/local here, so not ours to break: {', '.join(missing)}")
    _, api_key = await create_api_key(settings, "chaos")
    results: list[Result] = []
    try:
        for scenario in scenarios:
            print(f"… {scenario.name}", flush=True)
            results.append(await run_scenario(scenario, settings, api_key))
    except BaseException:
        await restore(settings)  # whatever the failed scenario left stopped
        raise
    path = report(results, f"Chaos ({'short' if args.short else 'full'} run) against {settings.public_url}")
    print(f"\nresults: {path}")
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
