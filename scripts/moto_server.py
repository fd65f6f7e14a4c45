"""Starts moto_server with DynamoDB's conditional writes made atomic, as DynamoDB's are.

moto evaluates a ConditionExpression and then applies the write without holding a lock, so
two concurrent conditional UpdateItem calls can both pass the same condition (measured: 14
of 30 rounds of 12 racing updates had more than one winner). Real DynamoDB never does that,
and Vetted's "exactly one transition wins" rests on it. This wrapper serialises moto's
DynamoDB writes under one lock and then runs moto's own server entry point, unchanged
otherwise: same arguments, same behaviour for every other service.

Usage: .venv/bin/python scripts/moto_server.py -H 127.0.0.1 -p PORT
"""

import functools
import sys
import threading

from moto.dynamodb.models import DynamoDBBackend
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

if __name__ == "__main__":
    main(sys.argv[1:])
