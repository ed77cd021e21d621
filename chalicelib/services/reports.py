"""What a scheduled run reports: what was due, what it did, what it left to its next run. Every
scheduled function returns one (``local.sweep`` prints it) and publishes it as metrics."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from chalicelib.observability import count, logger


@dataclass
class SweepReport:
    sweep: str
    due: int = 0
    acted: int = 0
    skipped: int = 0  # lost a race: the item moved after it was read
    stopped_early: bool = False  # the budget was spent with work left: the next run goes on

    def metrics(self) -> dict[str, int]:
        return {
            "Due": self.due,
            "Acted": self.acted,
            "SkippedLostRace": self.skipped,
            "StoppedEarly": int(self.stopped_early),
        }

    def publish(self) -> dict:
        for metric, value in self.metrics().items():
            count(f"{self.sweep}.{metric}", value)
        logger.info("sweep finished", extra=asdict(self))
        return asdict(self)
