"""The scenarios of `make chaos` (one table row each) and of the short form `make test` runs."""
from bench.chaos.faults import SERVICES, FreezeKafka, KillService, RedeliverFromZero, StopInfrastructure
from bench.chaos.runner import Scenario
from shared.settings import Settings


def full_run(settings: Settings) -> list[Scenario]:
    return [
        Scenario("kafka stopped 8 s", [StopInfrastructure("kafka stop", 8, component="kafka")], lead_s=3),
        *(Scenario(f"kill -9 {service}", [KillService(f"kill {service}", 1, service=service)], lead_s=3)
          for service in SERVICES),
        Scenario("redis stopped 3 s", [StopInfrastructure("redis stop", 3, component="redis")], lead_s=3),
        Scenario("postgres stopped 3 s", [StopInfrastructure("postgres stop", 3, component="postgres")], lead_s=3),
        Scenario("redeliver every topic from offset 0 (every group)", [RedeliverFromZero("redeliver", 1, settings=settings)],
                 lead_s=3),
    ]


def short_run(settings: Settings) -> list[Scenario]:
    """The same faults in three rows with short outages, for the test suite (about a minute)."""
    return [
        Scenario("kafka frozen 2 s (SIGSTOP), redis then postgres stopped 1 s",
                 [FreezeKafka("kafka freeze", 2),
                  StopInfrastructure("redis stop", 1, component="redis"),
                  StopInfrastructure("postgres stop", 1, component="postgres")], lead_s=0.5, tail_s=0.5),
        Scenario("kill -9 each service in turn",
                 [KillService(f"kill {service}", 0.5, service=service) for service in SERVICES], lead_s=0.5, tail_s=0.5,
                 ready_between_faults=False),
        # Only audit's group: portal-session re-reads history one message at a time, which on a long-lived
        # stack takes longer than the suite should wait (the full run rewinds every group).
        Scenario("redeliver every topic from offset 0 to audit",
                 [RedeliverFromZero("redeliver", 0.2, settings=settings, services=("audit",))],
                 lead_s=0.5, tail_s=0.5),
    ]
