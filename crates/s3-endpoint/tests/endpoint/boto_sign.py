"""Signs S3 requests with boto3, an independent SigV4 implementation, for the endpoint tests.

Reads one JSON document on stdin:
  {"endpoint": "http://127.0.0.1:PORT/s3", "region": ..., "access_key": ..., "secret_key": ...,
   "bucket": ..., "requests": [REQUEST, ...]}
where each REQUEST is one of
  {"kind": "post", "key": K, "content_type": T, "min": N, "max": N, "expires": S,
   "fields": {...}, "conditions": [...]}          -> generate_presigned_post
  {"kind": "put", "key": K, "content_type": T?, "if_none_match": bool?, "content_length": N?,
   "checksum_sha256": B64?, "expires": S}          -> generate_presigned_url('put_object')
  {"kind": "get", "key": K, "expires": S}          -> generate_presigned_url('get_object')
  {"kind": "create_multipart", "key": K, "content_type": T, "expires": S}
  {"kind": "upload_part", "key": K, "upload_id": U, "part_number": N, "checksum_sha256": B64?,
   "expires": S}
  {"kind": "list_parts" | "complete_multipart" | "abort_multipart", "key": K, "upload_id": U,
   "expires": S}                                    -> generate_presigned_url of that operation
and any REQUEST may carry "clock_offset": seconds, to sign as if botocore's clock were that far
from now (a negative offset signs in the past, for expiry tests).

Prints a JSON list with one result per request: {"url": ..., "fields": {...}} for a POST,
{"url": ...} otherwise.
"""

import datetime
import json
import sys

import boto3
import botocore.auth
import botocore.signers
from botocore.config import Config


def clock(offset_seconds):
    def now(remove_tzinfo=True):
        at = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(
            seconds=offset_seconds
        )
        return at.replace(tzinfo=None) if remove_tzinfo else at

    return now


def sign(client, bucket, request):
    offset = request.get("clock_offset", 0)
    botocore.auth.get_current_datetime = clock(offset)
    botocore.signers.get_current_datetime = clock(offset)
    kind = request["kind"]
    if kind == "post":
        fields = {"Content-Type": request["content_type"]}
        fields.update(request.get("fields", {}))
        conditions = [
            {"Content-Type": request["content_type"]},
            ["content-length-range", request["min"], request["max"]],
        ]
        conditions.extend(request.get("conditions", []))
        return client.generate_presigned_post(
            bucket,
            request["key"],
            Fields=fields,
            Conditions=conditions,
            ExpiresIn=request["expires"],
        )
    params = {"Bucket": bucket, "Key": request["key"]}
    if kind == "put":
        if "content_type" in request:
            params["ContentType"] = request["content_type"]
        if request.get("if_none_match"):
            params["IfNoneMatch"] = "*"
        if "content_length" in request:
            params["ContentLength"] = request["content_length"]
        if "checksum_sha256" in request:
            # boto3 signs it as a header, which the client must send.
            params["ChecksumSHA256"] = request["checksum_sha256"]
        operation = "put_object"
    elif kind == "get":
        operation = "get_object"
    elif kind == "create_multipart":
        params["ContentType"] = request["content_type"]
        operation = "create_multipart_upload"
    elif kind == "upload_part":
        params["UploadId"] = request["upload_id"]
        params["PartNumber"] = request["part_number"]
        if "checksum_sha256" in request:
            params["ChecksumSHA256"] = request["checksum_sha256"]
        operation = "upload_part"
    elif kind in ("list_parts", "complete_multipart", "abort_multipart"):
        params["UploadId"] = request["upload_id"]
        operation = {
            "list_parts": "list_parts",
            "complete_multipart": "complete_multipart_upload",
            "abort_multipart": "abort_multipart_upload",
        }[kind]
    else:
        raise SystemExit(f"unknown request kind {kind!r}")
    url = client.generate_presigned_url(
        operation, Params=params, ExpiresIn=request["expires"]
    )
    return {"url": url}


def main():
    spec = json.load(sys.stdin)
    client = boto3.client(
        "s3",
        endpoint_url=spec["endpoint"],
        region_name=spec["region"],
        aws_access_key_id=spec["access_key"],
        aws_secret_access_key=spec["secret_key"],
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )
    results = [sign(client, spec["bucket"], request) for request in spec["requests"]]
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
