"""Early warning of churn: fixed thresholds against each account's own rhythm, on a seeded population.

    python bench/early_warning.py                      # seed 1
    python bench/early_warning.py --seeds 1,2,3,4,5    # the table of docs/early-warning.md
    python bench/early_warning.py --holiday-share 0.3  # more people away at once

The population (`--accounts`, 2,000 by default) lives `DAYS` days. Each account follows one pattern:

| pattern | share | active on a day with probability |
| --- | ---: | --- |
| daily | 25 % | 0.9 |
| weekday-only | 30 % | 0.9 Monday to Friday, 0.03 at weekends |
| weekly | 20 % | 0.85 on its own weekday |
| monthly | 10 % | 0.85 on one day every 28 to 31 days (its own period, ± 1 day) |
| random noise | 15 % | one rate per account, uniform in [0.1, 0.5], any day |

Every pattern also has stray activity (0.01 a day). `--churn-share` (30 %) of the accounts stop for good on a day
drawn uniformly in `[EVAL_START, DAYS - 100]` (the known truth: their last active day is the last before it).
`--holiday-share` (10 %) of the others are away once for 7 or 14 days (half each), starting uniformly in
`[EVAL_START, DAYS - 21]`, and come back.

Each method runs day by day from `WARM_UP` to `DAYS`, at the start of each day (today's activity not yet
seen), and alerts when its condition turns true (once per transition, as the alert detector does; re-armed when
it turns false). Alerts count from `EVAL_START` (the history is full by then):

- **fixed N**: silent for N days or more.
- **adaptive**: `analytics.queries.assess` — the model whose decisions the at-risk list and the alert detector
  get from ClickHouse (`analytics.queries.scoring`, equal to it bit for bit: `tests/analytics_queries/
  test_scoring.py`), and that account activity calls — fed the account's days in the same shape
  (`read_windows`' bits);
  the condition is the `account.going_quiet` rule's: silent beyond its rhythm (`Assessment.quiet`), or, with no
  rhythm yet, silent for 14 days (the fixed rule).

An alert is true when the account has churned and the alert comes after its last activity; any other is
false (holidays, long gaps of irregular users, a churner's gap before it stopped). Reported per method: median
and p90 days from a churner's last activity to its first true alert, precision (true alerts / alerts) and
recall (churners alerted / churners); for the adaptive method also per pattern, and where false alerts come
from. The target: adaptive at least 5 days earlier than fixed 14 at the median, precision >= 0.8, recall >= 0.9.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analytics.queries import ChurnModel, assess

DAYS = 300
EPOCH = date(2024, 1, 1)
WARM_UP = 90
EVAL_START = 112
PATTERNS = (("daily", 0.25), ("weekday", 0.30), ("weekly", 0.20), ("monthly", 0.10), ("noise", 0.15))
STRAY = 0.01


@dataclass
class Account:
    pattern: str
    days: int = 0
    """Bit d: active on day d (EPOCH + d)."""
    churn_day: int | None = None
    holiday: tuple[int, int] | None = None

    @property
    def last_before_churn(self) -> int:
        assert self.churn_day is not None
        return (self.days & ((1 << self.churn_day) - 1)).bit_length() - 1


def population(seed: int, accounts: int, churn_share: float, holiday_share: float) -> list[Account]:
    rng = random.Random(seed)
    names = [name for name, _ in PATTERNS]
    weights = [share for _, share in PATTERNS]
    found = []
    for _ in range(accounts):
        account = Account(rng.choices(names, weights)[0])
        if rng.random() < churn_share:
            account.churn_day = rng.randint(EVAL_START, DAYS - 100)
        elif rng.random() < holiday_share:
            first = rng.randint(EVAL_START, DAYS - 21)
            account.holiday = (first, first + rng.choice((7, 14)))
        weekday = rng.randrange(7)
        period = rng.randint(28, 31)
        phase = rng.randrange(period)
        rate = rng.uniform(0.1, 0.5)
        next_monthly = phase
        for day in range(DAYS):
            if account.churn_day is not None and day >= account.churn_day:
                break
            workday = (EPOCH + timedelta(days=day)).weekday() < 5
            if account.pattern == "daily":
                p = 0.9
            elif account.pattern == "weekday":
                p = 0.9 if workday else 0.03
            elif account.pattern == "weekly":
                p = 0.85 if (EPOCH + timedelta(days=day)).weekday() == weekday else STRAY
            elif account.pattern == "monthly":
                p = STRAY
                if day == next_monthly:
                    p = 0.85
                    next_monthly = day + period + rng.randint(-1, 1)
            else:
                p = rate
            if account.holiday is not None and account.holiday[0] <= day < account.holiday[1]:
                continue
            if rng.random() < max(p, STRAY):
                account.days |= 1 << day
        found.append(account)
    return found


Condition = Callable[[Account, int], bool]


def fixed(days: int) -> Condition:
    def condition(account: Account, today: int) -> bool:
        seen = account.days & ((1 << today) - 1)
        return bool(seen) and today - (seen.bit_length() - 1) >= days

    return condition


def adaptive(model: ChurnModel) -> Condition:
    def condition(account: Account, today: int) -> bool:
        seen = account.days & ((1 << today) - 1)
        if not seen:
            return False
        last = seen.bit_length() - 1
        if today - last < model.min_quiet_days:
            return False  # no rhythm's quiet_after is shorter: the same answer, sooner
        first = today - model.history_days + 1
        bits = (seen >> first if first >= 0 else seen << -first) & ((1 << model.history_days) - 1)
        verdict = assess(bits, EPOCH + timedelta(days=first), EPOCH + timedelta(days=today),
                         EPOCH + timedelta(days=last), model)
        return verdict.quiet or (verdict.rhythm is None and today - last >= 14)

    return condition


@dataclass
class Result:
    leads: list[int] = field(default_factory=list)
    true_alerts: int = 0
    false_alerts: int = 0
    churners: int = 0
    caught: int = 0
    lead_by_pattern: dict[str, list[int]] = field(default_factory=dict)
    false_by_cause: Counter[str] = field(default_factory=Counter)

    def summary(self) -> dict[str, object]:
        alerts = self.true_alerts + self.false_alerts
        ordered = sorted(self.leads)
        return {
            "median_lead_days": statistics.median(ordered) if ordered else None,
            "p90_lead_days": ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)] if ordered else None,
            "precision": round(self.true_alerts / alerts, 3) if alerts else None,
            "recall": round(self.caught / self.churners, 3) if self.churners else None,
            "alerts": alerts,
            "true_alerts": self.true_alerts,
            "churners": self.churners,
            "median_lead_by_pattern": {k: statistics.median(v) for k, v in sorted(self.lead_by_pattern.items())},
            "false_alerts_by_cause": dict(self.false_by_cause.most_common()),
        }


def run(accounts: list[Account], condition: Condition) -> Result:
    result = Result(churners=sum(1 for a in accounts if a.churn_day is not None))
    for account in accounts:
        alerted = False
        caught = False
        for today in range(WARM_UP, DAYS):
            now = condition(account, today)
            if now and not alerted and today >= EVAL_START:
                churned = account.churn_day is not None and today > account.last_before_churn >= 0
                if churned and not caught:
                    caught = True
                    lead = today - account.last_before_churn
                    result.true_alerts += 1
                    result.leads.append(lead)
                    result.lead_by_pattern.setdefault(account.pattern, []).append(lead)
                elif not churned:
                    result.false_alerts += 1
                    on_holiday = account.holiday is not None and account.holiday[0] <= today <= account.holiday[1]
                    result.false_by_cause["holiday" if on_holiday else account.pattern] += 1
            alerted = now
        result.caught += caught
    return result


def evaluate(seed: int, accounts: int, churn_share: float, holiday_share: float,
             model: ChurnModel) -> dict[str, dict[str, object]]:
    people = population(seed, accounts, churn_share, holiday_share)
    methods = {"fixed 14": fixed(14), "fixed 7": fixed(7), "adaptive": adaptive(model)}
    return {name: run(people, condition).summary() for name, condition in methods.items()}


def target_met(report: dict[str, dict[str, object]]) -> bool:
    adaptive_, fixed_ = report["adaptive"], report["fixed 14"]
    lead, baseline = adaptive_["median_lead_days"], fixed_["median_lead_days"]
    precision, recall = adaptive_["precision"], adaptive_["recall"]
    return (isinstance(lead, int | float) and isinstance(baseline, int | float) and lead <= baseline - 5
            and isinstance(precision, float) and precision >= 0.8 and isinstance(recall, float) and recall >= 0.9)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seeds", default="1", help="comma-separated seeds, one population each")
    parser.add_argument("--accounts", type=int, default=2000)
    parser.add_argument("--churn-share", type=float, default=0.3)
    parser.add_argument("--holiday-share", type=float, default=0.1)
    parser.add_argument("--json-out", help="also write the report to this file")
    args = parser.parse_args(argv)
    model = ChurnModel()
    reports = {}
    all_met = True
    for seed in (int(s) for s in args.seeds.split(",")):
        started = time.monotonic()
        report = evaluate(seed, args.accounts, args.churn_share, args.holiday_share, model)
        met = target_met(report)
        all_met &= met
        reports[seed] = report
        print(f"seed {seed} ({time.monotonic() - started:.1f} s): target {'met' if met else 'NOT met'}")
        print("  method     median  p90  precision  recall  alerts")
        for name, r in report.items():
            print(f"  {name:<9} {r['median_lead_days']!s:>7} {r['p90_lead_days']!s:>4} {r['precision']!s:>10}"
                  f" {r['recall']!s:>7} {r['alerts']!s:>7}")
        print(f"  adaptive by pattern: {report['adaptive']['median_lead_by_pattern']}")
        print(f"  adaptive false alerts: {report['adaptive']['false_alerts_by_cause']}")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({"model": vars(model) if hasattr(model, "__dict__") else
                                                   {f: getattr(model, f) for f in model.__dataclass_fields__},
                                                   "reports": reports}, indent=2))
    return 0 if all_met else 1


if __name__ == "__main__":
    sys.exit(main())
