#!/usr/bin/env python3
"""Verify a summit audit trail without summit (python3 standard library only).

usage:
  audit-verify.py [--head HASH] STATE.db          the state database itself
  audit-verify.py [--head HASH] EXPORT.jsonl      `summit audit export` output
  summit audit export | audit-verify.py [--head HASH] -
  audit-verify.py --partial EXPORT.jsonl          an export made with --run
                                                  or --since

The chain (docs/audit.md):
  hash(n) = hex(SHA-256(hash(n-1) + "\\n" + record(n))),  hash(0) = 64 zeros
where record(n) is the exact canonical JSON text that summit stored and
hashed. For each record this checks that seq follows the previous one (a
gap is a deleted record), that prev is the previous hash, that the hash
recomputes from prev and the record text, and that the fields of the text
agree with the stored columns (or the exported fields). --head checks that
a hash noted earlier is still in the chain (nothing was cut from its end).

An export filtered with --run or --since holds only some records: with
--partial their own hashes are checked, and the links between them (which
cannot be) are not; without it a gap in seq is a deleted record.

Exit status: 0 the chain holds, 1 it does not (the first bad record is
named), 2 the input cannot be read.
"""
import hashlib
import json
import sqlite3
import sys

GENESIS = "0" * 64


def rows_from_db(path):
    # Read-only: an auditor's copy is not changed by looking at it.
    db = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    try:
        cur = db.execute("SELECT seq, ts_ms, actor, run_id, action, record,"
                         " prev_hash, hash FROM audit ORDER BY seq")
        for seq, ts_ms, actor, run, action, record, prev, h in cur:
            yield {"seq": seq, "ts_ms": ts_ms, "actor": actor, "run": run,
                   "action": action, "record": record, "prev": prev,
                   "hash": h, "where": "row seq=%s" % seq}
    finally:
        db.close()


def rows_from_jsonl(f, name):
    for n, line in enumerate(f, 1):
        line = line.strip()
        if not line:
            continue
        try:
            o = json.loads(line)
        except ValueError as e:
            raise SystemExit("audit-verify: %s:%d: not JSON: %s" % (name, n, e))
        o["where"] = "%s:%d" % (name, n)
        yield o


def check(rows, want_head, partial):
    """Returns (ok, message)."""
    prev_hash, want_seq, count, head_seq = GENESIS, 1, 0, 0
    found_head = None
    for r in rows:
        count += 1
        seq = r.get("seq")
        where = "record %s (%s, run %s, %s)" % (seq, r.get("where"),
                                                r.get("run"), r.get("action"))
        if not isinstance(seq, int):
            return False, "%s: no seq" % where
        if seq != want_seq and not (partial and seq > want_seq):
            if seq > want_seq:
                return False, ("record %d is missing (deleted): the chain goes "
                               "from %d to %d; next is %s"
                               % (want_seq, want_seq - 1, seq, where))
            else:
                return False, "%s: seq out of order (expected %d)" % (where, want_seq)
        text = r.get("record")
        if not isinstance(text, str):
            return False, "%s: no record text" % where
        try:
            rec = json.loads(text)
        except ValueError:
            return False, "%s: the record text is not JSON (it was changed)" % where
        if not isinstance(rec, dict):
            return False, "%s: the record text is not an object" % where
        for field, col in (("seq", "seq"), ("actor", "actor"), ("run", "run"),
                           ("action", "action"), ("prev", "prev")):
            if rec.get(field) != r.get(col):
                return False, ("%s: the stored %s (%r) differs from the hashed "
                               "record's (%r)" % (where, col, r.get(col), rec.get(field)))
        if "ts_ms" in r and rec.get("ts_ms") != r["ts_ms"]:
            return False, "%s: the stored ts_ms differs from the hashed record's" % where
        if "detail" in r and rec.get("detail") != r["detail"]:
            return False, "%s: the exported detail differs from the hashed record's" % where
        if not partial and r.get("prev") != prev_hash:
            return False, ("%s: prev is not the hash of record %d (that record "
                           "or this one was rewritten)" % (where, seq - 1))
        h = hashlib.sha256((r["prev"] + "\n" + text).encode("utf-8")).hexdigest()
        if h != r.get("hash"):
            return False, ("%s: the hash does not match the content (the record "
                           "was changed after it was written)" % where)
        if want_head and h == want_head.lower():
            found_head = seq
        prev_hash, want_seq, head_seq = h, seq + 1, seq
    msg = "%d record(s) verified" % count
    if partial:
        msg += (" one by one (a filtered export: the links between them were "
                "not checked)")
    msg += "; last: seq %d hash %s" % (head_seq, prev_hash)
    if want_head:
        if found_head is None:
            return False, (msg + "\nthe remembered head %s is not in the chain: "
                           "records were removed from its end, or it was rewritten"
                           % want_head)
        msg += "\nthe remembered head is record %d" % found_head
    return True, msg


def main(argv):
    want_head, src, partial = None, None, False
    args = list(argv)
    while args:
        a = args.pop(0)
        if a == "--head" and args:
            want_head = args.pop(0)
        elif a == "--partial":
            partial = True
        elif a in ("-h", "--help"):
            print(__doc__)
            return 0
        elif src is None:
            src = a
        else:
            sys.stderr.write("audit-verify: one input at a time\n")
            return 2
    if src is None:
        sys.stderr.write(__doc__)
        return 2
    try:
        if src == "-":
            rows = rows_from_jsonl(sys.stdin, "stdin")
        else:
            with open(src, "rb") as f:
                magic = f.read(16)
            if magic == b"SQLite format 3\x00":
                rows = rows_from_db(src)
            else:
                rows = rows_from_jsonl(open(src, encoding="utf-8"), src)
        ok, msg = check(rows, want_head, partial)
    except (OSError, sqlite3.Error) as e:
        sys.stderr.write("audit-verify: %s: %s\n" % (src, e))
        return 2
    if ok:
        print("audit trail intact: " + msg)
        return 0
    print("audit trail BROKEN: " + msg)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
