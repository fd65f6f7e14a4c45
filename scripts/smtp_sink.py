"""A real SMTP server for tests: aiosmtpd, writing every message it accepts to a directory.

Listens on HOST and a free port, prints the port on the first line of stdout once it accepts
connections, then writes each message it receives to DIR as one `.eml` file (written under a
temporary name and renamed, so a reader never sees half a message), with the envelope's
recipients in an `X-Envelope-To` header line before the message. Stops when killed.

Usage: .venv/bin/python scripts/smtp_sink.py DIR [--host 127.0.0.1]
"""

import argparse
import asyncio
import os
import pathlib
import time
import uuid

from aiosmtpd.smtp import SMTP


class Sink:
    def __init__(self, out: pathlib.Path):
        self.out = out

    async def handle_DATA(self, server, session, envelope):
        name = f"{time.time_ns()}-{uuid.uuid4().hex}.eml"
        tmp = self.out / f".{name}.tmp"
        head = f"X-Envelope-To: {', '.join(envelope.rcpt_tos)}\r\n".encode()
        tmp.write_bytes(head + (envelope.original_content or envelope.content))
        os.rename(tmp, self.out / name)
        return "250 Message accepted for delivery"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("dir", type=pathlib.Path)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(
        loop.create_server(lambda: SMTP(Sink(args.dir), hostname="sink.test"), args.host, 0)
    )
    print(server.sockets[0].getsockname()[1], flush=True)
    loop.run_forever()


if __name__ == "__main__":
    main()
