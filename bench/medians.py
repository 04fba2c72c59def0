#!/usr/bin/env python3
"""The medians of an interleaved comparison (bench/compare, bench/platforms).

Reads lines "SIDE|ROW|req/s|p99 ms" (bench/round's lines, each prefixed
with its side; a ROW of "#" makes the rest a note of that side) and prints a
Markdown table: for each row, in the order rows first appear, each side's
median req/s and p99, and each other side's req/s as a ratio to the first
side's. The median of an even count is the mean of the middle two; a side
without a measurement of a row shows an empty cell. Notes follow the table,
each once. With --json FILE also writes every measurement and median there.

Usage: medians.py RESULTS --side NAME=LABEL... [--title TEXT] [--json FILE]
       medians.py --self-test
"""
import argparse
import json
import sys


def median(values):
    """The middle value, or the mean of the middle two; None for none."""
    v = sorted(values)
    n = len(v)
    if n == 0:
        return None
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def parse(lines):
    """(rows in first-seen order, {(side, row): [(rps, p99)]}, {side: [notes]})."""
    rows, runs, notes = [], {}, {}
    for n, line in enumerate(lines, 1):
        line = line.rstrip("\n")
        if not line:
            continue
        parts = line.split("|")
        if len(parts) >= 3 and parts[1] == "#":
            text = "|".join(parts[2:])
            if text not in notes.setdefault(parts[0], []):
                notes[parts[0]].append(text)
            continue
        if len(parts) != 4:
            raise ValueError("line %d: not SIDE|ROW|req/s|p99: %r" % (n, line))
        side, row, rps, p99 = parts
        try:
            values = (float(rps), float(p99))
        except ValueError:
            raise ValueError("line %d: req/s and p99 must be numbers: %r" % (n, line)) from None
        if row not in rows:
            rows.append(row)
        runs.setdefault((side, row), []).append(values)
    return rows, runs, notes


def summarize(rows, runs, sides):
    """[{row, sides: {side: {rps, p99_ms, runs}}}] with medians."""
    out = []
    for row in rows:
        entry = {"row": row, "sides": {}}
        for side in sides:
            values = runs.get((side, row), [])
            entry["sides"][side] = {
                "rps": median([v[0] for v in values]),
                "p99_ms": median([v[1] for v in values]),
                "runs": [{"rps": v[0], "p99_ms": v[1]} for v in values],
            }
        out.append(entry)
    return out


def table(summary, sides, labels):
    """Markdown: row, then per side req/s (a ratio to the first side for the
    others) and p99."""
    first = sides[0]
    head = ["row"]
    for side in sides:
        head.append("%s req/s" % labels[side])
        if side != first:
            head.append("/ %s" % labels[first])
        head.append("%s p99 ms" % labels[side])
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for entry in summary:
        cells = [entry["row"]]
        base = entry["sides"][first]["rps"]
        for side in sides:
            m = entry["sides"][side]
            cells.append("" if m["rps"] is None else "%.0f" % m["rps"])
            if side != first:
                ok = m["rps"] is not None and base
                cells.append("%.2f" % (m["rps"] / base) if ok else "")
            cells.append("" if m["p99_ms"] is None else "%.2f" % m["p99_ms"])
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results")
    ap.add_argument("--side", action="append", required=True, metavar="NAME=LABEL")
    ap.add_argument("--title", default="")
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    sides, labels = [], {}
    for s in args.side:
        name, _, label = s.partition("=")
        sides.append(name)
        labels[name] = label or name
    with open(args.results) as f:
        rows, runs, notes = parse(f)
    summary = summarize(rows, runs, sides)
    if args.title:
        print(args.title + "\n")
    print(table(summary, sides, labels))
    for side in sides:
        for note in notes.get(side, []):
            print("\n%s: %s" % (labels[side], note), end="")
    print()
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"title": args.title, "sides": [{"name": s, "label": labels[s]} for s in sides],
                       "notes": {s: notes.get(s, []) for s in sides}, "rows": summary}, f, indent=1)
            f.write("\n")
    return 0


def self_test():
    assert median([]) is None
    assert median([3.0]) == 3.0
    assert median([5.0, 1.0, 3.0]) == 3.0
    assert median([4.0, 1.0, 3.0, 2.0]) == 2.5
    lines = ["12|GET /users/{id}|100|2.0", "13|GET /users/{id}|150|1.0", "12|GET /users/{id}|300|4.0",
             "13|#|rpc-bench: nng 1.10.1", "13|#|rpc-bench: nng 1.10.1", "13|POST /users|50|9.5",
             "12|GET /users/{id}|200|3.0", ""]
    rows, runs, notes = parse(lines)
    assert rows == ["GET /users/{id}", "POST /users"], rows
    assert notes == {"13": ["rpc-bench: nng 1.10.1"]}, notes
    s = summarize(rows, runs, ["12", "13"])
    assert s[0]["sides"]["12"]["rps"] == 200 and s[0]["sides"]["12"]["p99_ms"] == 3.0
    assert s[1]["sides"]["12"]["rps"] is None
    t = table(s, ["12", "13"], {"12": "D12", "13": "D13"}).splitlines()
    assert t[0] == "| row | D12 req/s | D12 p99 ms | D13 req/s | / D12 | D13 p99 ms |", t[0]
    assert t[2] == "| GET /users/{id} | 200 | 3.00 | 150 | 0.75 | 1.00 |", t[2]
    assert t[3] == "| POST /users |  |  | 50 |  | 9.50 |", t[3]
    for bad in ["12|row|1", "12|row|fast|1.0"]:
        try:
            parse([bad])
        except ValueError as e:
            assert "line 1" in str(e), e
        else:
            raise AssertionError("accepted %r" % bad)
    print("medians: self-test passed")
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--self-test"]:
        sys.exit(self_test())
    try:
        sys.exit(main(sys.argv[1:]))
    except (OSError, ValueError) as e:
        sys.exit("medians: %s" % e)
