"""Drives the real Helm engine (helm-python-sdk, Helm v4.2.3) for the chart's tests, the
packaging script and the demo: one JSON request on stdin, one JSON answer on stdout.

Request: {"op": ..., "chart": path, "values": {...}, "release": name, "namespace": ns,
"kubeconfig": path, ...}. Answer: {"ok": result} or, when Helm refuses, {"error":
{"kind": the helm_python exception class, "message": Helm's own message}} (exit code 0:
a refusal is an answer, for tests of bad values). Anything else is a crash (exit code 1).

Usage: python helm.py < request.json   (hack/helm/venv.sh prints the python to use)
"""

import json
import sys

import helm_python
from helm_python import Chart, Config, HelmError


def render(req):
    chart = Chart.load(req["chart"])
    return chart.render(
        req.get("values"),
        name=req.get("release", "swr-sync-operator"),
        namespace=req.get("namespace", "swr-sync-system"),
        is_install=True,
    )


def lint(req):
    return helm_python.lint(
        req["chart"], req.get("values"), strict=req.get("strict"), namespace=req.get("namespace")
    )


def validate(req):
    Chart.load(req["chart"]).validate_schema(req.get("values"))
    return None


def package(req):
    return helm_python.package(
        req["chart"],
        destination=req["destination"],
        version=req.get("version"),
        app_version=req.get("app_version"),
    )


def config(req):
    return Config(kubeconfig_path=req["kubeconfig"], namespace=req["namespace"])


def install(req):
    return config(req).install(
        req["chart"],
        req["release"],
        req.get("values"),
        namespace=req["namespace"],
        create_namespace=req.get("create_namespace", False),
        timeout=req.get("timeout", 120),
        wait=req.get("wait"),
    )


def upgrade(req):
    return config(req).upgrade(
        req["chart"],
        req["release"],
        req.get("values"),
        namespace=req["namespace"],
        timeout=req.get("timeout", 120),
        wait=req.get("wait"),
    )


def rollback(req):
    config(req).rollback(req["release"], version=req.get("version"), timeout=req.get("timeout", 120))
    return None


def uninstall(req):
    return config(req).uninstall(req["release"], timeout=req.get("timeout", 120), wait=req.get("wait"))


def history(req):
    return config(req).history(req["release"])


OPS = {
    "render": render,
    "lint": lint,
    "validate": validate,
    "package": package,
    "install": install,
    "upgrade": upgrade,
    "rollback": rollback,
    "uninstall": uninstall,
    "history": history,
}


def main():
    req = json.load(sys.stdin)
    op = OPS[req["op"]]
    try:
        answer = {"ok": op(req)}
    except HelmError as e:
        answer = {"error": {"kind": type(e).__name__, "message": str(e)}}
    json.dump(answer, sys.stdout, default=str)


if __name__ == "__main__":
    main()
