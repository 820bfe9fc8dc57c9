#!/usr/bin/env python3
"""Drives the emulator with the official Huawei Cloud Python SDKs (SWR, HSS, IAM).

Run by tests/offline/sdk_interop.rs, which starts the emulator, writes a JSON setup on stdin
(endpoint, credentials, mode) and asserts on the JSON this prints: for each case, what the
SDK returned or raised (status, the SDK's own parsed error_code and error_msg, a few
fields), and what the admin API shows where a case changes the state. The script only
observes; the assertions live in the Rust test.
"""
import json
import sys
import urllib.request

from huaweicloudsdkcore.auth.credentials import BasicCredentials, GlobalCredentials
from huaweicloudsdkcore.exceptions.exceptions import SdkException
from huaweicloudsdkhss.v5 import (
    HssClient,
    RunImageSynchronizeRequest,
    RunImageSynchronizeRequestInfo,
)
from huaweicloudsdkiam.v3 import (
    AuthScope,
    AuthScopeProject,
    IamClient,
    KeystoneCreateUserTokenByPasswordRequest,
    KeystoneCreateUserTokenByPasswordRequestBody,
    KeystoneListProjectsRequest,
    PwdAuth,
    PwdIdentity,
    PwdPassword,
    PwdPasswordUser,
    PwdPasswordUserDomain,
)
from huaweicloudsdkswr.v2 import (
    CreateImageSyncRepoRequest,
    CreateImageSyncRepoRequestBody,
    CreateManualImageSyncRepoRequest,
    CreateManualImageSyncRepoRequestBody,
    DeleteImageSyncRepoRequest,
    DeleteImageSyncRepoRequestBody,
    DeleteRepoTagRequest,
    ListImageAutoSyncReposDetailsRequest,
    ListRepositoryTagsRequest,
    ShowSyncJobRequest,
    SwrClient,
)

TARGET = {"remote_region_id": "cn-east-3", "remote_namespace": "platform-dr"}


def outcome(send):
    """What a call gave: the status and a summary of the body, or the SDK's parsed error."""
    try:
        response = send()
        body = response.to_dict() if hasattr(response, "to_dict") else None
        return {"status": response.status_code, "body": body}
    except SdkException as e:
        return {
            "status": getattr(e, "status_code", None),
            "error_code": getattr(e, "error_code", None),
            "error_msg": getattr(e, "error_msg", None),
            "request_id": getattr(e, "request_id", None),
            "exception": type(e).__name__,
        }


def admin(endpoint, method, path, body=None):
    """Calls the emulator's admin API; returns its JSON answer (None when empty)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"{endpoint}/_admin/{path}", data=data, method=method,
        headers={"Content-Type": "application/json"})
    answer = urllib.request.urlopen(request).read()
    return json.loads(answer) if answer else None


def swr_client(setup, ak, sk):
    return (SwrClient.new_builder()
            .with_credentials(BasicCredentials(ak, sk, setup["projectId"]))
            .with_endpoints([setup["endpoint"]])
            .build())


def swr_cases(setup, out):
    swr = swr_client(setup, setup["ak"], setup["sk"])

    def tasks(repository):
        return outcome(lambda: swr.list_image_auto_sync_repos_details(
            ListImageAutoSyncReposDetailsRequest(namespace="platform", repository=repository)))

    def delete(repository):
        return outcome(lambda: swr.delete_image_sync_repo(DeleteImageSyncRepoRequest(
            namespace="platform", repository=repository,
            body=DeleteImageSyncRepoRequestBody(**TARGET))))

    out["create"] = outcome(lambda: swr.create_image_sync_repo(CreateImageSyncRepoRequest(
        namespace="platform", repository="nginx",
        body=CreateImageSyncRepoRequestBody(sync_auto=True, override=False, **TARGET))))
    out["list"] = tasks("nginx")
    out["manual_sync"] = outcome(lambda: swr.create_manual_image_sync_repo(
        CreateManualImageSyncRepoRequest(
            namespace="platform", repository="nginx",
            body=CreateManualImageSyncRepoRequestBody(image_tag=["1.25"], **TARGET))))
    # The target holds another image under `latest`: without override, SWR lists it as
    # failed in its answer.
    admin(setup["endpoint"], "POST", "push", {"region": "cn-east-3",
          "organization": "platform-dr", "repository": "nginx", "tag": "latest"})
    out["manual_sync_refused"] = outcome(lambda: swr.create_manual_image_sync_repo(
        CreateManualImageSyncRepoRequest(
            namespace="platform", repository="nginx",
            body=CreateManualImageSyncRepoRequestBody(image_tag=["latest"], **TARGET))))
    out["sync_jobs"] = outcome(lambda: swr.show_sync_job(ShowSyncJobRequest(
        namespace="platform", repository="nginx", filter="limit::10|offset::0|order::desc")))
    out["delete"] = delete("nginx")
    out["delete_again"] = delete("nginx")
    out["missing_repository"] = tasks("nope")
    # The SDK percent-encodes path parameters: `/` goes as %2F, `$` as %24.
    out["nested_slash"] = tasks("team/api")
    out["nested_dollar"] = tasks("team$api")

    admin(setup["endpoint"], "PUT", "faults", {"qps_limit": 0})
    out["throttled"] = tasks("nginx")
    admin(setup["endpoint"], "DELETE", "faults")

    stranger = swr_client(setup, setup["otherAk"], setup["otherSk"])
    out["other_domain"] = outcome(lambda: stranger.list_image_auto_sync_repos_details(
        ListImageAutoSyncReposDetailsRequest(namespace="platform", repository="nginx")))

    wrong = swr_client(setup, setup["lockAk"], "not-the-secret-key")
    out["wrong_secret"] = [
        outcome(lambda: wrong.list_image_auto_sync_repos_details(
            ListImageAutoSyncReposDetailsRequest(namespace="platform", repository="nginx")))
        for _ in range(setup["lockoutFailures"])]
    right = swr_client(setup, setup["lockAk"], setup["lockSk"])
    out["locked"] = outcome(lambda: right.list_image_auto_sync_repos_details(
        ListImageAutoSyncReposDetailsRequest(namespace="platform", repository="nginx")))


def tag_cases(setup, out):
    """DeleteRepoTag (`delete_repo_tag`): a tag deleted, then gone from the SDK's tag list and
    from the emulator's state; the same tag again, a missing repository, another account's
    key; a nested repository as the SDK encodes it; the calls as the emulator counted them."""
    swr = swr_client(setup, setup["ak"], setup["sk"])
    stranger = swr_client(setup, setup["otherAk"], setup["otherSk"])

    def tags(repository):
        return outcome(lambda: swr.list_repository_tags(
            ListRepositoryTagsRequest(namespace="platform", repository=repository)))

    def delete_tag(repository, tag, client=swr):
        return outcome(lambda: client.delete_repo_tag(
            DeleteRepoTagRequest(namespace="platform", repository=repository, tag=tag)))

    def state_tags(repository):
        state = admin(setup["endpoint"], "GET", "state")
        repos = state["regions"]["cn-north-4"]["organizations"]["platform"]["repositories"]
        return sorted(repos[repository]["tags"])

    out["tags_before"] = tags("nginx")
    out["delete_tag"] = delete_tag("nginx", "1.25")
    out["delete_tag_other_domain"] = delete_tag("nginx", "latest", client=stranger)
    out["tags_after"] = tags("nginx")
    out["state_tags_after"] = state_tags("nginx")
    out["delete_tag_again"] = delete_tag("nginx", "1.25")
    out["delete_tag_missing_repository"] = delete_tag("nope", "v1")
    # The SDK sends `team/api` as team%2Fapi.
    out["delete_tag_nested"] = delete_tag("team/api", "v1")
    out["tags_nested_after"] = tags("team/api")
    out["state_tags_nested_after"] = state_tags("team/api")
    calls = admin(setup["endpoint"], "GET", "calls")["calls"]
    out["delete_tag_calls"] = {str(c["status"]): c["count"] for c in calls
                               if c["operation"] == "swr.delete_repo_tag"}


def hss_cases(setup, out):
    def run(project_id):
        hss = (HssClient.new_builder()
               .with_credentials(BasicCredentials(setup["ak"], setup["sk"], project_id))
               .with_endpoints([setup["endpoint"]])
               .build())
        return outcome(lambda: hss.run_image_synchronize(RunImageSynchronizeRequest(
            body=RunImageSynchronizeRequestInfo(image_type="private_image"))))

    out["hss"] = run(setup["projectId"])
    out["hss_other_project"] = run("f" * 32)


def iam_cases(setup, out):
    iam = (IamClient.new_builder()
           .with_credentials(GlobalCredentials(setup["ak"], setup["sk"], setup["domainId"]))
           .with_endpoints([setup["endpoint"]])
           .build())

    def login(password):
        user = PwdPasswordUser(domain=PwdPasswordUserDomain(name=setup["domain"]),
                               name=setup["user"], password=password)
        body = KeystoneCreateUserTokenByPasswordRequestBody(auth=PwdAuth(
            identity=PwdIdentity(methods=["password"], password=PwdPassword(user=user)),
            scope=AuthScope(project=AuthScopeProject(name="cn-north-4"))))
        return iam.keystone_create_user_token_by_password(
            KeystoneCreateUserTokenByPasswordRequest(body=body))

    def token():
        response = login(setup["password"])
        return {"status": response.status_code,
                "has_token": bool(response.x_subject_token),
                "project": response.token.project.name}

    def wrapped(send):
        try:
            return send()
        except SdkException:
            return outcome(send)

    out["iam_login"] = wrapped(token)
    out["iam_wrong_password"] = outcome(lambda: login("not-the-password"))
    out["iam_projects"] = outcome(lambda: iam.keystone_list_projects(
        KeystoneListProjectsRequest(name="cn-north-4")))


def main():
    setup = json.load(sys.stdin)
    out = {}
    if setup["mode"] == "legacy":
        swr = swr_client(setup, setup["ak"], setup["sk"])
        out["delete_missing"] = outcome(lambda: swr.delete_image_sync_repo(
            DeleteImageSyncRepoRequest(namespace="platform", repository="nginx",
                                       body=DeleteImageSyncRepoRequestBody(**TARGET))))
    else:
        swr_cases(setup, out)
        tag_cases(setup, out)
        hss_cases(setup, out)
        iam_cases(setup, out)
    json.dump(out, sys.stdout, default=str)


if __name__ == "__main__":
    main()
