"""The README's Python way to call the deployed (IAM-authorized) API: the openai client over an httpx
client whose auth signs every request with SigV4 (botocore), against a host that checks signatures
as API Gateway does (gateway:local with --iam).

Run by test/runtime/python-client.e2e.test.ts with CNLLM_BASE_URL, CNLLM_REGION and the caller's
AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY in the environment. Prints one JSON object: case -> result.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, Callable, Dict

import boto3
import httpx
import openai
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from openai import OpenAI

REGION = os.environ["CNLLM_REGION"]
BASE_URL = os.environ["CNLLM_BASE_URL"]

# From here to `client = ...`: the README's example (a session from the environment here, a profile there).
session = boto3.Session(region_name=REGION)


class SigV4(httpx.Auth):
    requires_request_body = True

    def auth_flow(self, request):
        aws = AWSRequest(method=request.method, url=str(request.url), data=request.content,
                         headers={"content-type": request.headers.get("content-type", "application/json")})
        SigV4Auth(session.get_credentials(), "execute-api", REGION).add_auth(aws)
        request.headers.update(dict(aws.headers))  # replaces the SDK's bearer Authorization
        yield request


client = OpenAI(base_url=BASE_URL, api_key="iam", http_client=httpx.Client(auth=SigV4()), max_retries=0)


def error_of(e: openai.APIStatusError) -> Dict[str, Any]:
    return {"class": type(e).__name__, "status_code": e.status_code, "code": e.code, "type": e.type, "error_type_header": e.response.headers.get("x-amzn-errortype")}


def signed() -> Dict[str, Any]:
    completion = client.chat.completions.create(model="nova-lite", messages=[{"role": "user", "content": "你好, signed"}])
    stream = client.chat.completions.create(model="nova-lite", messages=[{"role": "user", "content": "signed stream"}], stream=True)
    streamed = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    return {
        "content": completion.choices[0].message.content,
        "streamed": streamed,
        "models": [m.id for m in client.models.list().data][:1],
        "embedding_length": len(client.embeddings.create(model="titan-embed-v2", input="signed", dimensions=256).data[0].embedding),
    }


def unsigned() -> Dict[str, Any]:
    """Without the signing http client: what API Gateway answers, as an exception class."""
    try:
        OpenAI(base_url=BASE_URL, api_key="sk-not-sigv4", max_retries=0).models.list()
        return {"error": None}
    except openai.APIStatusError as e:
        return {"error": error_of(e)}


def wrong_secret() -> Dict[str, Any]:
    bad = boto3.Session(region_name=REGION, aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"], aws_secret_access_key="not-the-secret")

    class BadSigV4(SigV4):
        def auth_flow(self, request):
            aws = AWSRequest(method=request.method, url=str(request.url), data=request.content, headers={"content-type": "application/json"})
            SigV4Auth(bad.get_credentials(), "execute-api", REGION).add_auth(aws)
            request.headers.update(dict(aws.headers))
            yield request

    try:
        OpenAI(base_url=BASE_URL, api_key="iam", http_client=httpx.Client(auth=BadSigV4()), max_retries=0).chat.completions.create(model="nova-lite", messages=[{"role": "user", "content": "x"}])
        return {"error": None}
    except openai.APIStatusError as e:
        return {"error": error_of(e)}


CASES: Dict[str, Callable[[], Any]] = {"signed": signed, "unsigned": unsigned, "wrong_secret": wrong_secret}

if __name__ == "__main__":
    results: Dict[str, Any] = {}
    for name, case in CASES.items():
        try:
            results[name] = case()
        except Exception as e:  # noqa: BLE001 - a case's failure is its result
            results[name] = {"crashed": f"{type(e).__name__}: {e}"}
    json.dump(results, sys.stdout, ensure_ascii=False)
