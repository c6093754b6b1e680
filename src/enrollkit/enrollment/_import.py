"""CMS's public revalidation due-date list, read row by row (Rules EN-7, EN-10).

CMS publishes, and refreshes every two months, a CSV of every enrollment with its
revalidation due date. :func:`read_revalidation_list` streams it (one row in memory
at a time) and yields each row checked; a row that does not hold is collected as a
:class:`ListProblem` naming its line, and the reader raises one
:class:`RevalidationListError` at the end naming them, so a caller writing as it reads
(the import use case) rolls everything back and nothing of the file lands.

>>> rows = list(read_revalidation_list([
...     HEADER_LINE,
...     '"I20031110000070","1234567893","ANA","REYES","","MD","1",'
...     '"Practitioner - Internal Medicine","Internal Medicine","10/31/2026","","2","0"',
... ]))
>>> rows[0].enrollment_id, rows[0].revalidation_due, rows[0].adjusted_due, rows[0].line
('I20031110000070', datetime.date(2026, 10, 31), None, 2)

A date that is not a month end, an NPI failing its check digit, a wrong column set or a
duplicate enrollment ID is an error naming the line (EN-10):

>>> list(read_revalidation_list([HEADER_LINE, HEADER_LINE.replace("Enrollment ID", "x")]))
Traceback (most recent call last):
...
enrollkit.enrollment._import.RevalidationListError: ...
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from datetime import date
from typing import Final

import attrs

from enrollkit.enrollment._deadlines import month_end
from enrollkit.enrollment._record import check_enrollment_id
from enrollkit.errors import EnrollkitError, ValidationError, excerpt
from enrollkit.npi import NPI

__all__ = [
    "HEADER_LINE",
    "REVALIDATION_LIST_COLUMNS",
    "ListProblem",
    "ListedEnrollment",
    "RevalidationListError",
    "read_revalidation_list",
    "revalidation_list_lines",
]

#: EN-10: the columns of CMS's revalidation due-date list, as CMS names them.
REVALIDATION_LIST_COLUMNS: Final = (
    "Enrollment ID",
    "National Provider Identifier",
    "First Name",
    "Last Name",
    "Organization Name",
    "Enrollment State Code",
    "Enrollment Type",
    "Provider Type Text",
    "Enrollment Specialty",
    "Revalidation Due Date",
    "Adjusted Due Date",
    "Individual Total Employer Associations",
    "Group Member Total Reassignments",
)
#: The header line as CMS writes it (every name quoted).
HEADER_LINE: Final = ",".join(f'"{c}"' for c in REVALIDATION_LIST_COLUMNS)
#: How many problems an error lists (the count names the rest).
MAX_LISTED_PROBLEMS: Final = 50
#: A field longer than this is not CMS's (ER-1: bounded input).
MAX_FIELD_CHARS: Final = 500

_DATE: Final = re.compile(r"(\d{2})/(\d{2})/(\d{4})")
#: EN-7: what CMS writes where no date is set yet; [default] an empty cell means the same.
_NO_DATE: Final = frozenset({"TBD", ""})


@attrs.frozen
class ListedEnrollment:
    """One row of the list, checked (EN-10); ``None`` dates are "TBD"."""

    line: int  #: the line of the file the row ends on (1 is the header)
    enrollment_id: str
    npi: NPI
    first_name: str
    last_name: str
    organization_name: str
    state: str
    enrollment_type: str
    provider_type: str
    specialty: str
    revalidation_due: date | None
    adjusted_due: date | None
    employer_associations: int | None
    group_reassignments: int | None


@attrs.frozen
class ListProblem:
    """Why one line of the list was refused."""

    line: int
    code: str  #: ``revalidation_list.bad_date``, ...
    message: str

    def as_dict(self) -> dict[str, object]:
        """JSON-ready: line, code, message."""
        return {"line": self.line, "code": self.code, "message": self.message}


class RevalidationListError(ValidationError):
    """The list has malformed rows; nothing of it was imported (EN-10). ``code`` is the
    first problem's; ``fields["problems"]`` lists up to 50, ``fields["count"]`` all."""


class _RowProblem(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _date(text: str, column: str) -> date | None:
    if text in _NO_DATE:
        return None
    found = _DATE.fullmatch(text)
    day: date | None = None
    if found:
        month, dom, year = (int(g) for g in found.groups())
        try:
            day = date(year, month, dom)
        except ValueError:
            day = None
    if day is None:
        raise _RowProblem(
            "revalidation_list.bad_date",
            f"{column} {excerpt(text)} is not a date like 10/31/2026 or TBD",
        )
    if day != month_end(day):
        raise _RowProblem(
            "revalidation_list.not_month_end",
            f"{column} {day:%m/%d/%Y} is not the last day of its month; CMS sets due dates "
            "at month ends (EN-7)",
        )
    return day


def _count(text: str, column: str) -> int | None:
    if not text:
        return None
    if text.isascii() and text.isdigit() and len(text) <= 9:
        return int(text)
    raise _RowProblem(
        "revalidation_list.bad_count", f"{column} {excerpt(text)} is not a whole number"
    )


def _row(line: int, cells: list[str], at: tuple[int, ...]) -> ListedEnrollment:
    if len(cells) != len(REVALIDATION_LIST_COLUMNS):
        raise _RowProblem(
            "revalidation_list.cell_count",
            f"the row has {len(cells)} cells; the list has {len(REVALIDATION_LIST_COLUMNS)} "
            "columns",
        )
    values = [cells[i].strip() for i in at]
    if any(len(v) > MAX_FIELD_CHARS for v in values):
        raise _RowProblem(
            "revalidation_list.long_field", f"a cell is longer than {MAX_FIELD_CHARS} characters"
        )
    (eid, npi, first, last, org, state, etype, ptype, specialty, due, adjusted, emp, grp) = values
    try:
        enrollment_id = check_enrollment_id(eid)
        number = NPI.parse(npi)
    except EnrollkitError as exc:
        code = (
            "revalidation_list.bad_npi"
            if exc.code.startswith("npi.")
            else ("revalidation_list.bad_enrollment_id")
        )
        raise _RowProblem(code, exc.message) from None
    return ListedEnrollment(
        line,
        enrollment_id,
        number,
        *(first, last, org, state, etype, ptype, specialty),  # kept as written
        _date(due, "Revalidation Due Date"),
        _date(adjusted, "Adjusted Due Date"),
        _count(emp, "Individual Total Employer Associations"),
        _count(grp, "Group Member Total Reassignments"),
    )


def _fail(problems: list[ListProblem], count: int) -> RevalidationListError:
    first = problems[0]
    more = f" ({count - 1} more problems)" if count > 1 else ""
    return RevalidationListError(
        first.code,
        f"Line {first.line} of the revalidation list: {first.message}{more}. Nothing was "
        "imported; correct the file and import it again (EN-10).",
        line=first.line,
        count=count,
        problems=[p.as_dict() for p in problems],
    )


def _without_bom(lines: Iterable[str]) -> Iterator[str]:
    """*lines*, the first without a leading byte-order mark (a file saved as UTF-8 with
    BOM and opened as ``utf-8``)."""
    it = iter(lines)
    first = next(it, None)
    if first is None:
        return
    yield first.removeprefix("\ufeff")
    yield from it


def read_revalidation_list(lines: Iterable[str]) -> Iterator[ListedEnrollment]:
    """Yield each row of CMS's revalidation list (*lines*: the file's text lines, read
    lazily), checked (EN-10). Once every row was read, raise one
    :class:`RevalidationListError` if any row was refused (a wrong header at once):
    a caller that writes as it reads rolls back, and nothing of the file lands."""
    reader = csv.reader(_without_bom(lines), strict=True)
    problems: list[ListProblem] = []
    count = 0
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise _fail(
            [ListProblem(1, "revalidation_list.csv", f"it is not CSV ({exc})")], 1
        ) from None
    names = [h.strip() for h in header or ()]
    if sorted(names) != sorted(REVALIDATION_LIST_COLUMNS):
        missing = sorted(set(REVALIDATION_LIST_COLUMNS) - set(names))
        extra = sorted(set(names) - set(REVALIDATION_LIST_COLUMNS))
        raise _fail(
            [
                ListProblem(
                    1,
                    "revalidation_list.columns",
                    f"the header is not CMS's column set (missing {missing}, unexpected "
                    f"{[excerpt(e) for e in extra][:5]})",
                )
            ],
            1,
        )
    at = tuple(names.index(c) for c in REVALIDATION_LIST_COLUMNS)
    seen: dict[str, int] = {}
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            count += 1
            if len(problems) < MAX_LISTED_PROBLEMS:
                problems.append(
                    ListProblem(reader.line_num, "revalidation_list.csv", f"unreadable CSV ({exc})")
                )
            break
        line = reader.line_num
        if not cells:
            continue  # a blank line
        try:
            row = _row(line, cells, at)
            first = seen.setdefault(row.enrollment_id, line)
            if first != line:
                raise _RowProblem(
                    "revalidation_list.duplicate",
                    f"enrollment ID {row.enrollment_id} is listed again (first on line {first})",
                )
        except _RowProblem as problem:
            count += 1
            if len(problems) < MAX_LISTED_PROBLEMS:
                problems.append(ListProblem(line, problem.code, problem.message))
            continue
        if not problems:
            yield row
    if problems:
        raise _fail(problems, count)


def _cms_date(day: date | None) -> str:
    return "TBD" if day is None else f"{day:%m/%d/%Y}"


def _quoted(value: object) -> str:
    return '"' + str(value).replace('"', '""') + '"'


def revalidation_list_lines(rows: Iterable[ListedEnrollment]) -> Iterator[str]:
    """The lines of a revalidation list holding *rows*, as CMS writes it (the header, then
    one line per row, every cell quoted, "TBD" for no date): the inverse of
    :func:`read_revalidation_list`, for tests, demos and benchmarks.

    >>> print(next(revalidation_list_lines([])) == HEADER_LINE)
    True
    """
    yield HEADER_LINE
    for r in rows:
        cells = (
            r.enrollment_id,
            r.npi.value,
            r.first_name,
            r.last_name,
            r.organization_name,
            r.state,
            r.enrollment_type,
            r.provider_type,
            r.specialty,
            _cms_date(r.revalidation_due),
            "" if r.adjusted_due is None else _cms_date(r.adjusted_due),
            "" if r.employer_associations is None else r.employer_associations,
            "" if r.group_reassignments is None else r.group_reassignments,
        )
        yield ",".join(_quoted(c) for c in cells)
