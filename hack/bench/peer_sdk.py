#!/usr/bin/env python3
"""The benchmark's script peer: what a user without an operator runs.

It reads a plan on stdin (endpoint, credentials, the tasks wanted and the tasks to remove)
and applies it sequentially with the official Huawei Cloud Python SDK (huaweicloudsdkswr):
for each repository, list its auto-sync tasks, create the wanted ones that are missing and
delete the unwanted ones that are there. It prints JSON: seconds taken and calls made by
operation and status.
"""
import collections
import json
import sys
import time

from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkswr.v2 import (
    CreateImageSyncRepoRequest,
    CreateImageSyncRepoRequestBody,
    DeleteImageSyncRepoRequest,
    DeleteImageSyncRepoRequestBody,
    ListImageAutoSyncReposDetailsRequest,
    SwrClient,
)


def main():
    plan = json.load(sys.stdin)
    config = HttpConfig.get_default_config()
    config.timeout = (10, 30)
    client = (
        SwrClient.new_builder()
        .with_http_config(config)
        .with_credentials(BasicCredentials(plan["ak"], plan["sk"], plan["projectId"]))
        .with_endpoints([plan["endpoint"]])
        .build()
    )
    calls = collections.Counter()

    def call(operation, send):
        try:
            response = send()
            calls[(operation, response.status_code)] += 1
            return response
        except ClientRequestException as e:
            calls[(operation, e.status_code)] += 1
            return None

    by_repo = collections.defaultdict(lambda: {"want": [], "remove": []})
    for org, repo, region, target_org in plan["desired"]:
        by_repo[(org, repo)]["want"].append((region, target_org))
    for org, repo, region, target_org in plan["remove"]:
        by_repo[(org, repo)]["remove"].append((region, target_org))

    started = time.monotonic()
    for (org, repo), work in sorted(by_repo.items()):
        listed = call("list", lambda: client.list_image_auto_sync_repos_details(
            ListImageAutoSyncReposDetailsRequest(namespace=org, repository=repo)))
        present = {(t.remote_region_id, t.remote_namespace) for t in (listed.body or [])} if listed else set()
        for region, target_org in work["want"]:
            if (region, target_org) in present:
                continue
            body = CreateImageSyncRepoRequestBody(
                remote_region_id=region, remote_namespace=target_org, sync_auto=True, override=False)
            call("create", lambda: client.create_image_sync_repo(
                CreateImageSyncRepoRequest(namespace=org, repository=repo, body=body)))
        for region, target_org in work["remove"]:
            if (region, target_org) not in present:
                continue
            body = DeleteImageSyncRepoRequestBody(remote_region_id=region, remote_namespace=target_org)
            call("delete", lambda: client.delete_image_sync_repo(
                DeleteImageSyncRepoRequest(namespace=org, repository=repo, body=body)))
    seconds = time.monotonic() - started
    out = {
        "seconds": seconds,
        "calls": [{"operation": op, "status": status, "count": n} for (op, status), n in sorted(calls.items())],
    }
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
