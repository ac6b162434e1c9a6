"""Every account's state computed in ClickHouse: what `analytics.queries.assess` decides, as one digit per
account, without bringing each account's days to Python.

The statement reads each account's window as `read_windows` does (two 64-bit words, `w0` and `w1`, and `last`)
and turns it into a `code` (`CODES`): the state, whether the account has a rhythm, and whether its silence is
beyond it (`Assessment.quiet`). The steps are those of `analytics.queries.rhythm` on the positions of the
active days (`bitmaskToArray`: ClickHouse 18.16 has no `bitCount`): weekday positions, the gaps in days or
weekdays, the median and `gap_quantile` gap (nearest rank), the rates, `quiet_after`, the silence.

The answer must be `assess`'s own, bit for bit: every comparison is made on the same IEEE doubles as Python's.
Float parameters are written as exact fractions (`n / 2^k`, their `float.as_integer_ratio()`), so no decimal
literal is parsed; the silence a rate makes rare (`log(rare_silence) / log(1 - rate)`) is not computed in SQL
at all but looked up in a table Python computes with `math.log` for every (active units, span) pair of the
window, its value already kept between `min_quiet_days` and `max_quiet_days`. `tests/analytics_queries/
test_scoring.py` compares the codes with `assess` over thousands of day sets and several models on both
engines.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import date
from functools import lru_cache

from analytics.queries.rhythm import MAX_HISTORY_DAYS, ChurnModel
from analytics.queries.risk import Assessment, State, assess
from analytics.queries.sql import (
    Executor,
    day_number,
    from_day_number,
    member_chunks,
    packed_numbers,
    packed_strings,
    run,
    unpack_strings,
)
from analytics.queries.windows import window_rows

WORD_BITS = 64

CODES: dict[int, tuple[State, bool, bool]] = {
    0: ("active", False, False),
    1: ("inactive", False, False),
    2: ("active", True, False),
    3: ("slowing", True, False),
    4: ("going_quiet", True, True),
    5: ("inactive", True, True),
    6: ("inactive", True, False),
}
"""Digit -> (state, has a rhythm, silent beyond its rhythm)."""

AT_RISK_CODES = (3, 4)
FLAGS_OF_CODE = {str(code): (rhythm, quiet) for code, (_, rhythm, quiet) in CODES.items()}
STATE_OF_CODE: dict[str, State] = {str(code): state for code, (state, _, _) in CODES.items()}
CHUNK_BYTES = 150_000
"""Member lists per statement: the table of `_rare_table` (up to about 52 KB) must fit beside them, under
ClickHouse's default `max_query_size` (256 KiB)."""


def _exact(value: float) -> str:
    """A double as SQL that evaluates to exactly that double (a fraction with a power-of-two denominator)."""
    numerator, denominator = float(value).as_integer_ratio()
    return f"({numerator} / {denominator})"


@lru_cache(maxsize=16)
def _rare_table(length: int, rare_silence: float, low: int, high: int) -> str:
    """The arguments of `transform` that map (span `s`, units `o`), as the key `s * (s - 1) / 2 + o`, to the
    silence its rate makes rarer than `rare_silence`, kept within [low, high]."""
    table = {}
    top = math.log(rare_silence)
    for span in range(1, length + 1):
        for units in range(1, span + 1):
            rate = units / span  # as `rhythm_of` computes it
            by_rate = math.ceil(top / math.log(1 - rate)) if rate < 1 else 1
            table[span * (span - 1) // 2 + units] = min(high, max(low, by_rate))
    default = Counter(table.values()).most_common(1)[0][0]
    kept = {key: value for key, value in table.items() if value != default}
    return f"[{','.join(map(str, kept))}], [{','.join(map(str, kept.values()))}], {default}"


def _weekday(position: str, offset: int) -> str:
    return f"(({position} + {offset}) % 7 < 5)"


def code_expression(model: ChurnModel, start: date, today: date) -> str:
    """SQL of the code (`CODES`) of an account with the columns `w0`, `w1` (its days from `start`, as
    `read_windows` reads them) and `last` (its last active day number), as of `today`."""
    length = (today - start).days + 1
    if not 1 <= length <= MAX_HISTORY_DAYS:
        raise ValueError("the history holds 1 to 120 days")
    low_mask = (1 << min(length, WORD_BITS)) - 1
    high_mask = (1 << max(0, length - WORD_BITS)) - 1
    offset = (day_number(start) + 3) % 7  # 0: position 0 is a Monday (1970-01-01 was a Thursday)
    positions = (
        f"arrayConcat(arrayMap(x -> toInt32(log2(x)), bitmaskToArray(bitAnd(w0, toUInt64({low_mask})))),"
        f" arrayMap(x -> toInt32(log2(x)) + {WORD_BITS}, bitmaskToArray(bitAnd(w1, toUInt64({high_mask})))))"
    )
    units_of_weekdays = (f"arrayMap(p -> toInt32(5 * intDiv(p + {offset}, 7) + (p + {offset}) % 7),"
                         f" arrayFilter(p -> {_weekday('p', offset)}, sc_p))")
    weekday_count = "(5 * intDiv({d} + 3, 7) + least(({d} + 3) % 7 + 1, 5))"
    today_number = day_number(today)
    recent = model.recent_days
    table = _rare_table(length, model.rare_silence, model.min_quiet_days, model.max_quiet_days)
    # Named once with aliases in the same SELECT (ClickHouse computes each once); `sc_` keeps them apart
    # from the columns of the statement around. The last steps are arithmetic, not `multiIf`/`AND`: current
    # releases evaluate those branches lazily, on the rows that reach them, and computed the whole chain of
    # arrays again for each branch (five times the cost on chDB).
    parts = [
        f"{positions} AS sc_p",
        "length(sc_p) AS sc_active",
        "sc_p[1] AS sc_first",
        f"arrayCount(p -> {_weekday('p', offset)}, sc_p) >= {_exact(model.weekday_share)} * sc_active AS sc_wd",
        f"if(sc_wd, {units_of_weekdays}, sc_p) AS sc_u",
        # The gaps, sorted, after the 0 that `arrayDifference` puts first (gaps are 1 or more).
        "arraySort(arrayDifference(sc_u)) AS sc_g",
        "length(sc_g) - 1 AS sc_n",
        f"(sc_active >= {model.min_active_days} AND {length} - sc_first >= {model.min_history_days}"
        " AND sc_n > 0) AS sc_rhythm",
        f"sc_g[toUInt32(greatest(1, ceil({_exact(model.gap_quantile)} * sc_n)) + 1)] AS sc_high",
        "toUInt32(sc_u[-1] - sc_u[1] + 1) AS sc_span",
        f"least(least({model.max_quiet_days}, greatest({model.min_quiet_days},"
        f" ceil({_exact(model.quiet_factor)} * sc_high))),"
        f" transform(toUInt32(intDiv(sc_span * (sc_span - 1), 2) + length(sc_u)), {table})) AS sc_quiet_after",
        f"arrayCount(p -> p >= {length - recent}, sc_p) AS sc_recent",
        f"toInt32({length - recent}) - sc_first AS sc_bspan",
        "(sc_active - sc_recent) / sc_bspan AS sc_baseline",
        f"(sc_bspan >= {recent} AND sc_active > sc_recent AND sc_baseline * {recent} >= {model.slowing_min_days}"
        f" AND sc_recent / {recent} <= {_exact(model.slowing_ratio)} * sc_baseline) AS sc_slowing",
        f"{today_number} - toInt32(last) AS sc_days",
        f"if(sc_wd, {weekday_count.format(d=today_number)} - {weekday_count.format(d='toInt32(last)')}, sc_days)"
        " AS sc_silence",
        "sc_rhythm * (sc_silence >= sc_quiet_after) AS sc_quiet",
        f"(sc_days >= {model.inactive_days}) AS sc_inactive",
        # inactive: 5 beyond its rhythm, 6 with one, 1 without; else 0 without, 4 beyond it, 3 slowing, 2.
        "sc_inactive * (1 + 5 * sc_rhythm - sc_quiet)"
        " + (1 - sc_inactive) * sc_rhythm * (2 + 2 * sc_quiet + sc_slowing * (1 - sc_quiet)) AS code",
    ]
    return ", ".join(parts)


class ScoredAccounts(Mapping[str, Assessment]):
    """The accounts of one scoring statement: each one's code (`CODES`) and last active day at once, its
    `Assessment` (`assess` over its days, the one scoring function) when it is asked for."""

    def __init__(self, model: ChurnModel, start: date, today: date) -> None:
        self.model = model
        self.start = start
        self.today = today
        self._subs: list[str] = []
        self._codes: list[str] = []
        self._lasts: list[str] = []
        self._low: list[str] = []
        self._high: list[str] = []
        self._index: dict[str, int] | None = None
        self._found: dict[str, Assessment] = {}
        self._flags: tuple[list[bool], list[bool], list[date]] | None = None

    def _add(self, subs: list[str], codes: str, lasts: str, low: str, high: str) -> None:
        self._subs.extend(subs)
        self._codes.extend(codes)
        if subs:
            self._lasts.extend(lasts.split(","))
            self._low.extend(low.split(","))
            self._high.extend(high.split(","))
        self._index = None
        self._flags = None

    def _position(self, sub: str) -> int:
        if self._index is None:
            self._index = {sub: index for index, sub in enumerate(self._subs)}
        return self._index[sub]

    def __getitem__(self, sub: str) -> Assessment:
        found = self._found.get(sub)
        if found is None:
            index = self._position(sub)
            bits = int(self._low[index]) | int(self._high[index]) << WORD_BITS
            found = assess(bits, self.start, self.today, from_day_number(self._lasts[index]), self.model)
            self._found[sub] = found
        return found

    def __contains__(self, sub: object) -> bool:
        if self._index is None:
            self._index = {sub: index for index, sub in enumerate(self._subs)}
        return sub in self._index

    def __iter__(self) -> Iterator[str]:
        return iter(self._subs)

    def __len__(self) -> int:
        return len(self._subs)

    def codes(self) -> Iterator[tuple[str, str]]:
        """(sub, code digit) of every account, without assessing any."""
        return zip(self._subs, self._codes, strict=True)

    def flags(self) -> Iterator[tuple[str, bool, bool, date]]:
        """(sub, has a rhythm, silent beyond it: `Assessment.quiet`, last active day) of every account, without
        assessing any. The columns are built once: rules of one scope read them in turn."""
        if self._flags is None:
            flags = [FLAGS_OF_CODE[code] for code in self._codes]
            days: dict[str, date] = {}
            lasts = [days.get(text) or days.setdefault(text, from_day_number(text)) for text in self._lasts]
            self._flags = ([rhythm for rhythm, _ in flags], [quiet for _, quiet in flags], lasts)
        rhythms, quiets, lasts = self._flags
        return zip(self._subs, rhythms, quiets, lasts, strict=True)

    def state(self, sub: str) -> State:
        return STATE_OF_CODE[self._codes[self._position(sub)]]

    def last(self, sub: str) -> date:
        """The account's last active day."""
        return from_day_number(self._lasts[self._position(sub)])


def read_scores(engine: Executor, subs: Sequence[str] | None, today: date, model: ChurnModel, since: date,
                codes: Collection[int] | None = None) -> ScoredAccounts:
    """Every account among `subs` (all when None) last active after `since`, with a code among `codes` (any
    when None), scored in ClickHouse."""
    start = model.start(today)
    found = ScoredAccounts(model, start, today)
    if (subs is not None and not subs) or (codes is not None and not codes):
        return found
    # Accounts silent since `since` are left out before any array is built.
    keep = "1" if codes is None else f"code IN ({', '.join(str(int(code)) for code in sorted(codes))})"
    for chunk in member_chunks(subs, CHUNK_BYTES):
        statement = (
            f"SELECT {packed_strings(f'groupArrayIf(account, {keep})')},"
            f" arrayStringConcat(arrayMap(x -> toString(x), groupArrayIf(code, {keep})), ''),"
            f" {packed_numbers(f'groupArrayIf(last, {keep})')},"
            f" {packed_numbers(f'groupArrayIf(w0, {keep})')}, {packed_numbers(f'groupArrayIf(w1, {keep})')}"
            f" FROM (SELECT account, last, w0, w1, {code_expression(model, start, today)}"
            f" FROM ({window_rows(chunk, start, today, since)}))"
        )
        for accounts, digits, lasts, low, high in run(engine, statement):
            found._add(unpack_strings(accounts), str(digits), str(lasts), str(low), str(high))
    return found
