"""Per-class F1 of two `vigil eval --json` reports (FP32, then INT8), for an INT8 verdict.

    python scripts/quantize/compare_eval.py FP32.json INT8.json [--bar 0.02]

Prints a markdown table (class, events, F1 of each, delta) and the items whose hits, false
detections or alert differ; exits 1 when a class's F1 drops by more than the bar. Standard
library only.
"""

import argparse
import json
import sys


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("fp32")
    parser.add_argument("int8")
    parser.add_argument("--bar", type=float, default=0.02)
    args = parser.parse_args()
    a, b = (json.load(open(p)) for p in (args.fp32, args.int8))
    print(f"FP32 {a['models']} vs INT8 {b['models']}\n")
    print("| class | events | F1 fp32 | F1 int8 | delta |")
    print("|---|---:|---:|---:|---:|")
    worst = 0.0
    by_class = {c["cls"]: c for c in b["classes"]}
    for c in a["classes"]:
        d = by_class.get(c["cls"], {})
        f32, f8 = c.get("f1"), d.get("f1")
        delta = None if f32 is None or f8 is None else round(f8 - f32, 4)
        if delta is not None:
            worst = min(worst, delta)
        fmt = lambda v: "-" if v is None else f"{v:.3f}"
        print(f"| {c['cls']} | {c['events']} | {fmt(f32)} | {fmt(f8)} | {'-' if delta is None else f'{delta:+.3f}'} |")
    changed = []
    items = {i["file"]: i for i in b["items"]}
    for i in a["items"]:
        j = items.get(i["file"])
        keys = ("hits", "missed", "falseDetections", "raisedAlert", "falseAlerts")
        if j is None or any(i.get(k) != j.get(k) for k in keys):
            changed.append((i, j))
    print(f"\nlargest F1 drop: {-worst:.3f} (bar {args.bar}); totals fp32 {a['totals']}\n  int8 {b['totals']}")
    print(f"items that differ: {len(changed)} of {len(a['items'])}")
    for i, j in changed:
        show = lambda x: None if x is None else {k: x.get(k) for k in ("hits", "missed", "falseDetections", "raisedAlert", "falseAlerts")}
        print(f"  {i['file']}: fp32 {show(i)} int8 {show(j)}")
    return 1 if -worst > args.bar else 0


if __name__ == "__main__":
    sys.exit(main())
