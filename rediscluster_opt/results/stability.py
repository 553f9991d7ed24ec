"""What a reader should know about a run's noise before reading its verdicts.

Two facts, each measured rather than guessed from the spread of the figures (a rule on
the spread fired in every story, so it told a reader nothing):

- **the machine**: each trial records the CPU third processes took during its window
  (`bench.machine`); a contaminated trial was run again, and one still contaminated after
  that stays marked. A run is "quiet" when none stayed contaminated, and says how many did
  otherwise ("contaminated (2 of 54 trials)"); trials re-run are counted apart. Each
  trial also probes the host's speed before and after its window (`bench.machine.probe_ns`),
  and the text says how far the slowest probe was from the fastest: a host that changed
  speed between trials is told, though the grade does not yet count it (no steady host has
  been seen with these probes to set its bound from);
- **position bias**: an A/A control (the same configuration run as two arms) whose whole
  interval excludes no difference (1 for a ratio, 0 for a difference) says the order of
  the arms, not the configurations, moved the figures: the arms' order is rotated each
  repeat (`bench.runner`), so this should not happen, and is named when it does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .stats import Interval

__all__ = ["MachineState", "machine_state", "position_bias", "speed_spread", "stability_lines"]


def speed_spread(probes: Iterable[float | None]) -> float | None:
    """The slowest of the host's speed probes over the fastest (`bench.machine.probe_ns`;
    1.0: the host ran our CPU at one speed); None without two probes."""
    found = [p for p in probes if p]
    return round(max(found) / min(found), 3) if len(found) >= 2 else None


class MachineState:
    """The machine figures of one or more records: trials measured, how many stayed
    contaminated, how many were re-run, and the worst foreign share seen in a kept trial."""

    def __init__(self, records: Iterable[Mapping[str, Any] | None]) -> None:
        self.trials = self.contaminated = self.rerun = self.unknown = 0
        self.worst_foreign = 0.0
        probes: list[float] = []
        for record in records:
            if not record:
                continue
            self.rerun += len(record.get("superseded") or [])
            for trial in record.get("trials", []):
                if trial.get("status") != "ok":
                    continue
                self.trials += 1
                machine = trial.get("machine") or {}
                if machine.get("foreign") is None:
                    self.unknown += 1
                    continue
                self.worst_foreign = max(self.worst_foreign, float(machine["foreign"]))
                self.contaminated += bool(trial.get("contaminated"))
                probes += machine.get("probe_ns") or []
        self.speed_spread = speed_spread(probes)

    @property
    def quiet(self) -> bool:
        return self.contaminated == 0 and self.unknown < self.trials

    def text(self) -> str:
        """ "quiet", "contaminated (k of n trials)", or why it is not known."""
        if not self.trials:
            return "no trials"
        if self.unknown == self.trials:
            return "not known (its records hold no machine figures)"
        notes = f"; {self.rerun} re-run after contamination" if self.rerun else ""
        if self.speed_spread is not None:
            notes += f"; the host's speed: slowest probe {self.speed_spread:.2f}x the fastest"
        if self.contaminated:
            return f"contaminated ({self.contaminated} of {self.trials} trials){notes}"
        return f"quiet (others took at most {self.worst_foreign:.2f} CPU{notes})"


def machine_state(records: Iterable[Mapping[str, Any] | None]) -> MachineState:
    return MachineState(records)


def position_bias(criteria_rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """A/A controls whose whole interval excludes no difference, by name."""
    out: dict[str, str] = {}
    for row in criteria_rows:
        control = Interval.from_dict(row.get("control"))
        name = row.get("control_metric") or ""
        if control is None or name in out:
            continue
        centre = 0.0 if row.get("additive") else 1.0
        if control.low > centre or control.high < centre:
            out[name] = f"A/A {name} {control.text()} excludes {centre:g}"
    return list(out.values())


def stability_lines(
    criteria_rows: Iterable[Mapping[str, Any]], records: Iterable[Mapping[str, Any] | None]
) -> list[str]:
    """What a story's summary says of its run's noise: the machine's state, then any
    position bias."""
    lines = [f"**Machine:** {machine_state(records).text()}."]
    bias = position_bias(criteria_rows)
    if bias:
        lines.append(
            f"**Position bias:** {'; '.join(bias)}: the arms' order moved the figures more than "
            "their pairing cancels; read the verdicts on that metric with care."
        )
    return lines
