"""A date column as the model reads it: numbers that carry over to dates training never saw.

A date column (`columns.dates` in params.yaml) is text in a stated strptime format. The model
never sees the text: it reads the date's year, month, weekday and the days elapsed since a
reference (the earliest date in training), so a customer who signs up next month is scored
like one who signed up last month, not refused as an unknown category.

Plain Python (no pandas): the prediction service parses request dates with the same function
that prepared the training data, so the two cannot disagree.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

PARTS = ("year", "month", "weekday", "days")  # weekday: Monday 0; days: since the reference date
MISSING = (math.nan,) * len(PARTS)


def part_name(column: str, part: str) -> str:
    """The feature a part of a date column becomes: 'signup date (month)'."""
    return f"{column} ({part})"


def parse(text: str, fmt: str) -> datetime:
    """The date `text` holds in format `fmt`, naive in UTC; ValueError when it does not match."""
    moment = datetime.strptime(text.strip(), fmt)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def parts(moment: datetime, reference: datetime) -> tuple[float, ...]:
    """(year, month, weekday, days since `reference`) of a parsed date."""
    days = (moment - reference).total_seconds() / 86400
    return float(moment.year), float(moment.month), float(moment.weekday()), round(days, 6)


def is_missing(value) -> bool:
    return value is None or value == "" or (isinstance(value, float) and value != value)


def text_parts(value, fmt: str, reference: datetime) -> tuple[float, ...]:
    """The parts of one value of a date column; NaN for each when it is missing or not a date in `fmt`."""
    if is_missing(value):
        return MISSING
    try:
        return parts(parse(str(value), fmt), reference)
    except ValueError:
        return MISSING
