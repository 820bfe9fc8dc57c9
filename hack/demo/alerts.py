"""Prints the alerts a Prometheus holds (GET /api/v1/alerts), for the demo.

Usage: alerts.py URL show        print every pending or firing alert
       alerts.py URL wait NAME..  exit 0 once every NAME fires, 1 otherwise
"""
import json
import sys
import urllib.request

url, mode, names = sys.argv[1], sys.argv[2], set(sys.argv[3:])
with urllib.request.urlopen(f"{url}/api/v1/alerts") as answer:
    alerts = json.load(answer)["data"]["alerts"]
if mode == "wait":
    firing = {a["labels"]["alertname"] for a in alerts if a["state"] == "firing"}
    sys.exit(0 if names <= firing else 1)
for a in sorted(alerts, key=lambda a: a["labels"]["alertname"]):
    labels, notes = a["labels"], a["annotations"]
    extra = ", ".join(f"{k}={v}" for k, v in sorted(labels.items()) if k != "alertname")
    print(f"{a['state']:8} {labels['alertname']} {{{extra}}}")
    print(f"         {notes['summary']}")
    print(f"         runbook: {notes['runbook']}")
