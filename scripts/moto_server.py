"""Starts moto_server with two gaps to AWS closed (DynamoDB's conditional writes made atomic,
and S3 verifying a pinned x-amz-checksum-sha256, as both services do) and two of its slow
paths made fast without changing what they answer (Step Functions' definition parsing, SQS's
retention check).

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
The same holds for a multipart upload's parts: S3 refuses an UploadPart whose body does not
have the x-amz-checksum-sha256 its presigned URL signs, and moto 5.2.5 stores it (measured);
this wrapper checks the part's body first, as for PutObject. And moto names the root element
of its ListParts answer `ListPartsResponse` where S3 writes `ListPartsResult` (measured: the
Rust SDK then fails to read the answer, "no error code (HTTP 200)", while boto3 reads it);
the wrapper renames it. moto's ListParts still reports no part checksums, and lists the
parts of an upload whatever key the request names, where S3 answers NoSuchUpload.

It also makes moto's Step Functions engine start executions faster, without changing what
they do. moto 5.2 parses the state machine's definition again for every execution
(`ExecutionWorker._get_evaluation_entrypoint`, an ANTLR parser written in Python), holding
the interpreter's lock: measured with py-spy during the 200-upload burst test
(tests/intake_moto/burst.rs), that parse was 32 % of all the time moto spent running Python,
the largest single item (DynamoDB was 10 %, SQS receives 6 %, SendTaskSuccess 0.4 %), and one
parse of statemachine/review.asl.json takes about 440 ms on the loaded 2-core VM, where a
deep copy of the parsed program takes about 37 ms. So the first execution of a definition
parses it once into a pristine program that is never evaluated, and every execution
(the first included) evaluates its own deep copy of it: the same object graph a fresh parse
builds, with no state shared between executions. Measured on a fresh server: 100 executions of
the review workflow started one after another, until all 100 had sent their Sanitize task,
took 26.5 and 27.7 s with plain `moto_server`, and 6.9 and 7.2 s with this file (the same
definitions, a fresh server each time; BENCHMARKS.md, "A throttled burst on moto", has the
burst test's figures). The rest of moto's Step Functions code is unchanged: a definition
that fails to parse still fails, at CreateStateMachine as before.

And it makes moto's SQS receives cost the same however many messages a queue holds. For
every message it hands out, moto 5.2 checks the retention period through
`SQSBackend.get_queue_attributes(queue, ["MessageRetentionPeriod"])`, which builds every
attribute of the queue, three times over, and three of those count the queue's messages
one by one (`ApproximateNumberOfMessages`, `...NotVisible`, `...Delayed`). So each message
received cost several passes over the whole queue: with the 2,000 notifications of the burst
test queued, py-spy found 67 % of moto's time in `receive_message`, almost all of it in those
counts. The check here reads the same value, the queue's `message_retention_period` (the
attribute `MessageRetentionPeriod` is built from), and compares it exactly as moto does.
Measured in-process (moto's `mock_aws`, boto3, the loaded VM): ten ReceiveMessage calls of
ten messages each from a queue of 100 took 466 ms a call unpatched and 17 ms patched; from a
queue of 2,000, 11.8 s a call unpatched. moto still walks the whole queue once per receive
(`Queue.messages`), which this does not change.

And `GET /moto-api/data.json?service=NAME` dumps the models of that service alone, as moto's
whole dump lists them; without the parameter the answer is moto's own. The tests read the
emails moto's SES accepted from that dump. The whole dump walks every model of every service,
reading every attribute of every S3 key (bodies of 31 MiB included) while other tests change
them, and late in a CI run it failed ten times in a row for one test ("error decoding
response body"), where one service's models are a few hundred instances.

Usage: .venv/bin/python scripts/moto_server.py -H 127.0.0.1 -p PORT
"""

import base64
import copy
import functools
import hashlib
import json
import sys
import threading
from urllib.parse import parse_qs, urlparse

from moto.core.model_instances import model_data
from moto.dynamodb.models import DynamoDBBackend
from moto.moto_api._internal.responses import MotoAPIResponse
from moto.core.utils import unix_time
from moto.s3.exceptions import S3ClientError
from moto.s3.responses import S3Response
from moto.server import main
from moto.sqs.models import SQSBackend
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

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


_upload_part = S3Response.upload_part
_list_parts = S3Response.list_parts


def _upload_part_verifying(self):
    pinned = _pinned_sha256(self, self.headers, self.querystring)
    body = self.body or b""
    if isinstance(body, str):
        body = body.encode()
    if pinned is not None and base64.b64encode(hashlib.sha256(body).digest()).decode() != pinned:
        raise BadDigest()
    return _upload_part(self)


def _list_parts_named_as_s3_names_it(self):
    status, headers, body = _list_parts(self)
    if isinstance(body, str):
        body = body.replace("ListPartsResponse", "ListPartsResult")
    elif isinstance(body, bytes):
        body = body.replace(b"ListPartsResponse", b"ListPartsResult")
    return status, headers, body


S3Response.put_object = _put_object_verifying
S3Response._bucket_response_post = _post_verifying
S3Response.upload_part = _upload_part_verifying
S3Response.list_parts = _list_parts_named_as_s3_names_it
# Pristine parsed programs by definition text; never evaluated, only copied. Bounded, since
# every test bootstraps a state machine of its own (a definition naming its own queues).
_PROGRAMS: dict[str, object] = {}
_PROGRAMS_LOCK = threading.Lock()
_PROGRAMS_MAX = 256


def _evaluation_entrypoint(self):
    definition = self._evaluation_details.state_machine_details.definition
    with _PROGRAMS_LOCK:
        pristine = _PROGRAMS.get(definition)
    if pristine is None:
        pristine = AmazonStateLanguageParser.parse(definition)[0]
        with _PROGRAMS_LOCK:
            if len(_PROGRAMS) >= _PROGRAMS_MAX:
                _PROGRAMS.clear()
            pristine = _PROGRAMS.setdefault(definition, pristine)
    return copy.deepcopy(pristine)


ExecutionWorker._get_evaluation_entrypoint = _evaluation_entrypoint


def _within_retention(self, queue_name, message):
    retention_period = self.get_queue(queue_name).message_retention_period
    retain_until = retention_period + message.sent_timestamp / 1000
    return retain_until > unix_time()


SQSBackend.is_message_valid_based_on_retention_period = _within_retention

_whole_model_data = MotoAPIResponse.model_data


def _public_attributes(instance):
    """The attributes moto's dump shows of one model instance: public and JSON-serialisable."""
    shown = {}
    for attr in dir(instance):
        if attr.startswith("_"):
            continue
        try:
            value = getattr(instance, attr)
            json.dumps(value)
        except (TypeError, AttributeError, ValueError):
            continue
        shown[attr] = value
    return shown


def _model_data_of_named_services(self, request, full_url, headers):
    services = parse_qs(urlparse(full_url).query).get("service")
    if not services:
        return _whole_model_data(self, request, full_url, headers)
    results = {}
    for service in services:
        models = model_data.get(service, {})
        results[service] = {
            name: [_public_attributes(i) for i in list(models[name].instances_tracked)]
            for name in sorted(models)
        }
    return 200, {"Content-Type": "application/json"}, json.dumps(results)


MotoAPIResponse.model_data = _model_data_of_named_services

if __name__ == "__main__":
    main(sys.argv[1:])
