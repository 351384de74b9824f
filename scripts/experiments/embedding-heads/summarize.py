"""Table from results*.jsonl / nested*.jsonl: held-out hits/events, false (FD/h) per class and
decision. Cell: hits/events (recall), false detections in all held-out audio (per hour of audio
without that class). usage: summarize.py [--grid std|wide] FILE [FILE...]"""
import json
import sys
from collections import defaultdict

args = sys.argv[1:]
grid = "std"
if args[:1] == ["--grid"]:
    grid, args = args[1], args[2:]
files = args or [".cache/embedding-heads/results.jsonl", ".cache/embedding-heads/nested.jsonl"]
rows = defaultdict(dict)
order = []
for f in files:
    for line in open(f):
        r = json.loads(line)
        if r.get("grid", grid) != grid:  # nested.py writes one line per grid
            continue
        key = (r["features"], r["C"], r.get("false_cost", 3))
        if key not in order:
            order.append(key)
        g = r[grid]
        w = r.get("wide", g)
        cell = f"{g['hits']}/{g['events']} ({g['hits']/g['events']:.2f}), {g['false']} ({g['fd_per_h']})"
        if "chosen_C" in r:
            cell += " C:" + "/".join(str(v) for v in r["chosen_C"].values())
        if (w["hits"], w["false"]) != (g["hits"], g["false"]):
            cell += f" [wide {w['hits']}/{w['events']}, {w['false']}]"
        rows[key][r["class"]] = cell
classes = ["glass_break", "gunshot", "scream", "siren", "alarm", "dog_bark", "car_horn", "speech"]
print("| decision | C | cost | " + " | ".join(classes) + " |")
print("|---|---|---|" + "---|" * len(classes))
for key in order:
    f, c, cost = key
    print(f"| {f} | {c} | {cost:g} | " + " | ".join(rows[key].get(k, "") for k in classes) + " |")
