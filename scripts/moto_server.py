"""Starts moto_server with two gaps to AWS closed: DynamoDB's conditional writes made atomic,
and S3 verifying a pinned x-amz-checksum-sha256, as both services do.

moto evaluates a ConditionExpression and then applies the write without holding a lock, so
two concurrent conditional UpdateItem calls can both pass the same condition (measured: 14
of 30 rounds of 12 racing updates had more than one winner). Real DynamoDB never does that,
and Vetted's "exactly one transition wins" rests on it. This wrapper serialises moto's
DynamoDB writes under one lock and then runs moto's own server entry point, unchanged
otherwise: same arguments, same behaviour for every other service.

S3 refuses a PutObject or a POST form whose body does not have the SHA-256 its
x-amz-checksum-sha256 (header, presigned-URL query parameter or form field) names, with
400 BadDigest, and stores nothing; a HeadObject with ChecksumMode then reports the checksum.
moto 5.2.5 does neither (measured: a PUT and a POST with a wrong checksum both stored the body,
and HeadObject reported no checksum; moto's own code says "TODO: AWS computes the provided
value and verifies it's the same"). This wrapper checks the body before moto stores it, and
records the verified checksum on the stored key. Vetted's integrity tests rest on it.

Usage: .venv/bin/python scripts/moto_server.py -H 127.0.0.1 -p PORT
"""

import base64
import functools
import hashlib
import sys
import threading

from moto.dynamodb.models import DynamoDBBackend
from moto.s3.exceptions import S3ClientError
from moto.s3.responses import S3Response
from moto.server import main

_WRITES = threading.RLock()


def _atomic(method):
    @functools.wraps(method)
    def locked(self, *args, **kwargs):
        with _WRITES:
            return method(self, *args, **kwargs)

    return locked


for _name in ("put_item", "update_item", "delete_item", "transact_write_items"):
    setattr(DynamoDBBackend, _name, _atomic(getattr(DynamoDBBackend, _name)))



class BadDigest(S3ClientError):
    code = "BadDigest"

    def __init__(self):
        super().__init__("The SHA256 you specified did not match the calculated checksum.")


def _pinned_sha256(response, *sources):
    for source in sources:
        value = source.get("x-amz-checksum-sha256")
        if isinstance(value, list):
            value = value[0] if value else None
        if value:
            return value.decode() if isinstance(value, bytes) else value
    return None


def _verify_and_record(response, pinned, bucket_name, key_name, store):
    body = response.body or b""
    if isinstance(body, str):
        body = body.encode()
    if pinned is not None and base64.b64encode(hashlib.sha256(body).digest()).decode() != pinned:
        raise BadDigest()
    result = store()
    if pinned is not None:
        key = response.backend.get_object(bucket_name, key_name)
        if key is not None:
            key.checksum_algorithm = "SHA256"
            key.checksum_value = pinned
    return result


_put_object = S3Response.put_object
_bucket_response_post = S3Response._bucket_response_post


def _put_object_verifying(self):
    pinned = _pinned_sha256(self, self.headers, self.querystring)
    return _verify_and_record(
        self, pinned, self.bucket_name, self.parse_key_name(), lambda: _put_object(self)
    )


def _post_verifying(self, request, bucket_name):
    if "key" not in self.querystring:  # DeleteObjects and other bucket POSTs
        return _bucket_response_post(self, request, bucket_name)
    pinned = _pinned_sha256(self, self.querystring)
    key_name = self.querystring["key"][0]
    return _verify_and_record(
        self, pinned, bucket_name, key_name, lambda: _bucket_response_post(self, request, bucket_name)
    )


S3Response.put_object = _put_object_verifying
S3Response._bucket_response_post = _post_verifying

if __name__ == "__main__":
    main(sys.argv[1:])
