"""Renders deploy/monitoring/dashboard.json as a picture from a real Prometheus's data.

Every panel's queries run as they would in Grafana (query_range, `$job` matching every job),
and each series is drawn with the panel's legend, in the panel's place on Grafana's 24-column
grid. It is a plot of the dashboard's own queries, not a Grafana screenshot: no Grafana runs
here. Usage: render-dashboard.py PROMETHEUS_URL START END OUT.png (START/END: unix seconds).
"""
import json
import re
import sys
import urllib.parse
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy/monitoring/dashboard.json"
SCALE = {"bytes": (2**20, "MiB"), "percentunit": (0.01, "%")}


def query_range(url, expr, start, end):
    """The series of `expr` over [start, end] at a 1 s step: [(labels, times, values)]."""
    params = urllib.parse.urlencode({"query": expr, "start": start, "end": end, "step": "1"})
    with urllib.request.urlopen(f"{url}/api/v1/query_range?{params}") as answer:
        body = json.load(answer)
    if body["status"] != "success":
        sys.exit(f"{expr}: {body.get('error')}")
    series = []
    for s in body["data"]["result"]:
        times = [datetime.fromtimestamp(float(t), timezone.utc) for t, _ in s["values"]]
        values = [float(v) for _, v in s["values"]]
        series.append((s["metric"], times, values))
    return series


def legend(template, labels):
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: labels.get(m.group(1), ""), template)


def main():
    url, start, end, out = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
    dashboard = json.loads(DASHBOARD.read_text())
    panels = dashboard["panels"]
    rows = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in panels)
    fig = plt.figure(figsize=(18, rows * 0.5))
    grid = fig.add_gridspec(rows, 24, hspace=3.0, wspace=2.0, top=0.96, bottom=0.02)
    window = [datetime.fromtimestamp(t, timezone.utc) for t in (start, end)]
    for panel in panels:
        pos = panel["gridPos"]
        if panel["type"] == "row":
            ax = fig.add_subplot(grid[pos["y"], :])
            ax.axis("off")
            ax.text(0, 0.5, panel["title"], fontsize=13, fontweight="bold", va="center")
            continue
        ax = fig.add_subplot(grid[pos["y"] : pos["y"] + pos["h"], pos["x"] : pos["x"] + pos["w"]])
        unit = panel.get("fieldConfig", {}).get("defaults", {}).get("unit", "")
        divisor, shown = SCALE.get(unit, (1, unit))
        for target in panel["targets"]:
            expr = target["expr"].replace('"$job"', '".*"')
            for labels, times, values in query_range(url, expr, start, end):
                ax.plot(times, [v / divisor for v in values], linewidth=1.4,
                        label=legend(target.get("legendFormat", ""), labels))
        ax.set_xlim(*window)
        ax.set_title(panel["title"] + (f" ({shown})" if shown else ""), fontsize=9)
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M:%S"))
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=6, loc="upper left")
        else:
            ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
    fig.suptitle(f"{dashboard['title']}: the dashboard's queries over the demo "
                 "(hack/demo.sh), from a real Prometheus", fontsize=14, y=0.985)
    fig.savefig(out, dpi=80, bbox_inches="tight")


main()
