"""A seeded generator of realistic HRIS roster exports, for benchmarks and sample files.

The shape follows what payroll systems actually export: an employee id, the full name as
``Last, First M`` (quoted, since it holds the delimiter), a work email that is sometimes
blank, a division > department hierarchy, location, the manager's id, hire and
termination dates as ``MM/DD/YY``, and status words such as ``Voluntarily Terminated``.
The knobs add the mess real exports carry (BOM, cp1252, CRLF, padded values, addresses with
line breaks) and a controlled share of bad rows, so a benchmark measures validation work
and not only parsing. Everything is vectorised: a million rows take a few seconds.

    python benchmarks/generate.py 1000000 /tmp/roster.csv --seed 7
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

HEADERS = [
    "Employee ID",
    "Employee Name",
    "Work Email",
    "Division",
    "Department",
    "Location",
    "Manager ID",
    "Hire Date",
    "Termination Date",
    "Employment Status",
]

FIRST = [
    "James",
    "Mary",
    "Robert",
    "Patricia",
    "John",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Charles",
    "Karen",
    "Christopher",
    "Lisa",
    "Daniel",
    "Nancy",
    "Matthew",
    "Betty",
    "Anthony",
    "Margaret",
    "Mark",
    "Sandra",
    "Donald",
    "Ashley",
    "Steven",
    "Kimberly",
    "Paul",
    "Emily",
    "Andrew",
    "Donna",
    "Joshua",
    "Michelle",
    "Kenneth",
    "Carol",
    "Kevin",
    "Amanda",
    "Brian",
    "Dorothy",
    "George",
    "Melissa",
    "Timothy",
    "Deborah",
    "Ronald",
    "Stephanie",
    "Jason",
    "Rebecca",
    "Edward",
    "Sharon",
    "Jeffrey",
    "Laura",
    "Ryan",
    "Cynthia",
    "Jacob",
    "Kathleen",
    "Gary",
    "Amy",
    "Nicholas",
    "Angela",
    "Eric",
    "Shirley",
    "Jonathan",
    "Anna",
    "Stephen",
    "Brenda",
    "Larry",
    "Pamela",
    "Justin",
    "Emma",
    "Scott",
    "Nicole",
    "Brandon",
    "Helen",
    "Benjamin",
    "Samantha",
    "Samuel",
    "Katherine",
    "Gregory",
    "Christine",
    "Alexander",
    "Debra",
    "Frank",
    "Rachel",
    "Patrick",
    "Carolyn",
    "Raymond",
    "Janet",
    "Jack",
    "Catherine",
    "José",
    "Zoë",
    "Renée",
    "André",
    "Björn",
    "Chloé",
]
LAST = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Torres",
    "Nguyen",
    "Hill",
    "Flores",
    "Green",
    "Adams",
    "Nelson",
    "Baker",
    "Hall",
    "Rivera",
    "Campbell",
    "Mitchell",
    "Carter",
    "Roberts",
    "Gomez",
    "Phillips",
    "Evans",
    "Turner",
    "Diaz",
    "Parker",
    "Cruz",
    "Edwards",
    "Collins",
    "Reyes",
    "Stewart",
    "Morris",
    "Morales",
    "Murphy",
    "Cook",
    "Rogers",
    "Gutierrez",
    "Ortiz",
    "Morgan",
    "Cooper",
    "Peterson",
    "Bailey",
    "Reed",
    "Kelly",
    "Howard",
    "Ramos",
    "Kim",
    "Cox",
    "Ward",
    "Richardson",
    "Watson",
    "Brooks",
    "Chavez",
    "Wood",
    "James",
    "Bennett",
    "Gray",
    "Mendoza",
    "Müller",
    "O'Brien",
    "Søren",
    "Núñez",
    "Dubois",
    "Van der Berg",
]
ORG = {
    "Finance": ["Accounts Payable", "Payroll", "Treasury", "Tax"],
    "Operations": ["Warehouse", "Logistics", "Facilities", "Quality"],
    "Sales": ["Inside Sales", "Field Sales", "Sales Ops"],
    "Engineering": ["Platform", "Mobile", "Data", "Security", "QA"],
    "People": ["Recruiting", "HR Business Partners", "Learning & Development"],
    "Customer Success": ["Support", "Onboarding", "Renewals"],
}
LOCATIONS = [
    "Chicago IL",
    "Austin TX",
    "New York NY",
    "Denver CO",
    "Remote",
    "Toronto ON",
    "London UK",
    "Kraków PL",
]
ACTIVE = ["Active", "Active", "Active", "Active", "Active", "Active", "On Leave"]
LEAVERS = ["Terminated", "Voluntarily Terminated", "Involuntarily Terminated", "Retired"]

# How a syncd source reads what this generator writes (the `[sources.*]` table as a dict):
# benchmarks and tests map the export with exactly this.
SOURCE = {
    "path": "roster.csv",
    "columns": dict(
        zip(
            [
                "employee_id",
                "full_name",
                "email",
                "division",
                "department",
                "location",
                "manager_id",
                "hire_date",
                "termination_date",
                "status",
            ],
            HEADERS,
            strict=True,
        )
    ),
    "name_split": {"column": "full_name"},
    "date_formats": ["%m/%d/%y"],
    "status": {"active": sorted(set(ACTIVE)), "terminated": LEAVERS},
    "groups": [{"name": "org", "columns": ["division", "department"]}],
}
BAD_KINDS = ["missing_key", "duplicate_key", "invalid_email", "invalid_date", "unknown_status"]


def _pick(rng: np.random.Generator, values: list[str], n: int) -> pd.Series:
    return pd.Series(np.asarray(values, dtype=object)[rng.integers(0, len(values), n)], dtype=str)


def _dates(rng: np.random.Generator, start: str, days: int, n: int) -> pd.Series:
    labels = pd.date_range(start, periods=days, freq="D").strftime("%m/%d/%y").to_numpy(object)
    return pd.Series(labels[rng.integers(0, days, n)], dtype=str)


def frame(
    rows: int,
    seed: int,
    *,
    bad_rate: float = 0.001,
    messy: bool = True,
    newline_rate: float = 0.0,
    unknown_manager_rate: float = 0.0005,
) -> pd.DataFrame:
    """The export as a DataFrame of strings (before quoting and encoding)."""
    rng = np.random.default_rng(seed)
    ids = pd.Series(np.arange(100_001, 100_001 + rows).astype(str), dtype=str)
    first = _pick(rng, FIRST, rows)
    last = _pick(rng, LAST, rows)
    initial = _pick(rng, list("ABCDEFGHJKLMNPRSTW"), rows)
    name = last + ", " + first
    name = name.where(rng.random(rows) >= 0.4, name + " " + initial)
    local = (first.str[0] + last).str.lower().str.replace(r"[^a-z]", "", regex=True)
    email = local + ids.str[-3:] + "@acme.com"
    email = email.where(rng.random(rows) >= 0.03, "")
    divisions = list(ORG)
    division = _pick(rng, divisions, rows)
    manager = pd.Series(rng.integers(100_001, 100_001 + max(1, rows // 8), rows).astype(str))
    manager = manager.where(rng.random(rows) >= 0.02, "")
    leaver = rng.random(rows) < 0.08
    out = pd.DataFrame(
        {
            "Employee ID": ids,
            "Employee Name": name,
            "Work Email": email,
            "Division": division,
            "Department": _department(division.to_numpy(dtype=object), rng.integers(0, 5, rows)),
            "Location": _pick(rng, LOCATIONS, rows),
            "Manager ID": manager,
            "Hire Date": _dates(rng, "1995-01-01", 365 * 30, rows),
            "Termination Date": _dates(rng, "2023-01-01", 365 * 3, rows).where(leaver, ""),
            "Employment Status": _pick(rng, LEAVERS, rows).where(leaver, _pick(rng, ACTIVE, rows)),
        }
    )
    if messy:
        pad = rng.random(rows) < 0.05
        out.loc[pad, "Employee Name"] = out.loc[pad, "Employee Name"] + "  "
        pad = rng.random(rows) < 0.05
        out.loc[pad, "Department"] = " " + out.loc[pad, "Department"].str.replace(" ", "  ") + " "
        shout = rng.random(rows) < 0.02
        out.loc[shout, "Employment Status"] = out.loc[shout, "Employment Status"].str.upper()
    if newline_rate > 0:
        wrap = rng.random(rows) < newline_rate
        out.loc[wrap, "Location"] = out.loc[wrap, "Location"] + "\nBuilding 2"
    ghosts = rng.random(rows) < unknown_manager_rate
    out.loc[ghosts, "Manager ID"] = "999999"
    _spoil(out, rng, bad_rate)
    return out


def _department(division: np.ndarray, pick: np.ndarray) -> pd.Series:
    result = np.empty(len(division), dtype=object)
    for name, choices in ORG.items():
        mask = division == name
        result[mask] = np.asarray(choices, dtype=object)[pick[mask] % len(choices)]
    return pd.Series(result, dtype=str)


def _spoil(out: pd.DataFrame, rng: np.random.Generator, bad_rate: float) -> None:
    """Make about ``bad_rate`` of the rows invalid, spread over every kind of row error."""
    rows = len(out)
    count = round(rows * bad_rate)
    if count == 0:
        return
    where = rng.choice(np.arange(1, rows), size=min(count, rows - 1), replace=False)
    kinds = np.asarray(BAD_KINDS)[np.arange(len(where)) % len(BAD_KINDS)]
    for kind in BAD_KINDS:
        rows_of_kind = where[kinds == kind]
        if kind == "missing_key":
            out.iloc[rows_of_kind, 0] = ""
        elif kind == "duplicate_key":
            out.iloc[rows_of_kind, 0] = out.iloc[rows_of_kind - 1, 0].to_numpy()
        elif kind == "invalid_email":
            out.iloc[rows_of_kind, 2] = "not-an-email"
        elif kind == "invalid_date":
            out.iloc[rows_of_kind, 7] = "13/45/19"
        else:
            out.iloc[rows_of_kind, 9] = "Pending"


def _quote(column: pa.ChunkedArray, delimiter: str) -> pa.ChunkedArray:
    needs = pc.or_(pc.match_substring(column, delimiter), pc.match_substring_regex(column, '["\n]'))
    mark = pa.scalar('"', pa.large_string())
    quoted = pc.binary_join_element_wise(
        mark, pc.replace_substring(column, '"', '""'), mark, pa.scalar("", pa.large_string())
    )
    return pc.if_else(needs, quoted, column)


def render(df: pd.DataFrame, *, delimiter: str = ",", crlf: bool = False) -> str:
    """CSV text with minimal quoting, like most HRIS exports."""
    table = pa.Table.from_pandas(df, preserve_index=False)
    cols = [_quote(table.column(c).cast(pa.large_string()), delimiter) for c in df.columns]
    eol = "\r\n" if crlf else "\n"
    lines = pc.binary_join_element_wise(*cols, pa.scalar(delimiter, pa.large_string()))
    lines = lines.combine_chunks()
    one_list = pa.LargeListArray.from_arrays(pa.array([0, len(lines)], pa.int64()), lines)
    body = pc.binary_join(one_list, pa.scalar(eol, pa.large_string()))[0].as_py()
    return delimiter.join(df.columns) + eol + body + eol


def generate(
    rows: int,
    seed: int,
    path: str | Path,
    *,
    delimiter: str = ",",
    encoding: str = "utf-8",
    bom: bool = False,
    crlf: bool = False,
    bad_rate: float = 0.001,
    messy: bool = True,
    newline_rate: float = 0.0,
    unknown_manager_rate: float = 0.0005,
) -> Path:
    """Write a seeded export of ``rows`` people to ``path``; same arguments, same bytes."""
    df = frame(
        rows,
        seed,
        bad_rate=bad_rate,
        messy=messy,
        newline_rate=newline_rate,
        unknown_manager_rate=unknown_manager_rate,
    )
    text = render(df, delimiter=delimiter, crlf=crlf)
    data = text.encode(encoding, errors="replace")
    if bom and encoding.replace("-", "").lower() == "utf8":
        data = b"\xef\xbb\xbf" + data
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("rows", type=int)
    parser.add_argument("path", type=Path)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--delimiter", default=",")
    parser.add_argument("--encoding", default="utf-8")
    parser.add_argument("--bom", action="store_true")
    parser.add_argument("--crlf", action="store_true")
    parser.add_argument("--bad-rate", type=float, default=0.001)
    parser.add_argument("--newline-rate", type=float, default=0.0)
    parser.add_argument("--tidy", action="store_true", help="no padded or upper-cased values")
    args = parser.parse_args(argv)
    path = generate(
        args.rows,
        args.seed,
        args.path,
        delimiter=args.delimiter.replace("\\t", "\t"),
        encoding=args.encoding,
        bom=args.bom,
        crlf=args.crlf,
        bad_rate=args.bad_rate,
        messy=not args.tidy,
        newline_rate=args.newline_rate,
    )
    print(f"{path}: {args.rows} rows, {path.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
