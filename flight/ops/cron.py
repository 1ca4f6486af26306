"""Recurring start times: five-field cron ('min hour day month weekday') read in Asia/Shanghai.

Fields take `*`, numbers, `a-b` ranges, `*/n` or `a-b/n` steps and comma lists; weekday 0 or 7 is
Sunday. When both day and weekday are restricted either may match, as in Vixie cron.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

CITY_TZ = ZoneInfo("Asia/Shanghai")
_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day", 1, 31), ("month", 1, 12), ("weekday", 0, 7))


class CronError(ValueError):
    pass


def _field(text: str, name: str, lo: int, hi: int) -> frozenset[int]:
    out: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        try:
            step = int(step_text) if step_text else 1
            if base == "*":
                a, b = lo, hi
            elif "-" in base:
                a, b = (int(v) for v in base.split("-", 1))
            else:
                a = b = int(base)
        except ValueError:
            raise CronError(f"cron {name} {part!r}: not a number, range or step") from None
        if step < 1 or not lo <= a <= b <= hi:
            raise CronError(f"cron {name} {part!r}: expected values in {lo}..{hi} and a step ≥ 1")
        out.update(range(a, b + 1, step))
    return frozenset(out)


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    any_day: bool
    any_weekday: bool

    @classmethod
    def parse(cls, text: str) -> "Cron":
        parts = text.split()
        if len(parts) != 5:
            raise CronError(f"cron {text!r}: expected 5 fields (minute hour day month weekday), got {len(parts)}")
        m, h, d, mo, wd = (_field(p, *spec) for p, spec in zip(parts, _FIELDS))
        return cls(m, h, d, mo, frozenset(v % 7 for v in wd), parts[2] == "*", parts[4] == "*")

    def _day_ok(self, day: datetime) -> bool:
        if day.month not in self.months:
            return False
        by_day, by_weekday = day.day in self.days, (day.isoweekday() % 7) in self.weekdays
        if self.any_day or self.any_weekday:
            return by_day and by_weekday
        return by_day or by_weekday

    def next_after(self, when: datetime) -> datetime:
        """The first start strictly after `when` (aware), as UTC. Looks at most 5 years ahead."""
        local = when.astimezone(CITY_TZ)
        day = local.date()
        for _ in range(366 * 5):
            start = datetime.combine(day, time(0, 0), CITY_TZ)
            if self._day_ok(start):
                for hour in sorted(self.hours):
                    for minute in sorted(self.minutes):
                        at = start.replace(hour=hour, minute=minute)
                        if at > local:
                            return at.astimezone(timezone.utc)
            day += timedelta(days=1)
        raise CronError("cron never fires in the next 5 years")
