"""WeCom callbacks handled end to end, beside the raw decrypt rate in the same run.

A real ``siyu web`` (granian, WSGI, two processes, SQLite in a throwaway data dir) receives N distinct
``add_external_contact`` callbacks, encrypted and signed exactly as WeCom sends them, from an asyncio client
holding C keep-alive connections. Each request is received, its signature verified, decrypted, parsed with
defusedxml, stored as a pending CallbackEvent and acknowledged with ``success``. Reported: callbacks per second
and the p50/p99 acknowledgement latency. The limit is what the same machine can do of the crypto alone:
``WXBizMsgCrypt.decrypt_message`` on the same bodies in one process.
"""

from __future__ import annotations

import asyncio
import os
import time
import urllib.parse

from benchmarks.common import figure, setup_django, siyu_web, stopwatch

CALLBACKS = int(os.environ.get("SIYU_BENCH_CALLBACKS", "20000"))
CONNECTIONS = int(os.environ.get("SIYU_BENCH_CONNECTIONS", "32"))
WEB_WORKERS = 2


def _requests(connection, slug: str, n: int) -> tuple[list[bytes], list[tuple]]:
    """Raw HTTP/1.1 requests (prepared before timing) and the (signature, ts, nonce, body) for the decrypt limit."""
    from siyu.wecom.crypto import WXBizMsgCrypt
    from tests.wecom.helpers import event_xml

    crypt = WXBizMsgCrypt(connection.callback_token, connection.encoding_aes_key, connection.corp_id)
    requests, raw = [], []
    now = int(time.time())
    for i in range(n):
        inner = event_xml("change_external_contact", "add_external_contact", create_time=now,
                          UserID="zhangsan", ExternalUserID=f"wmBENCH{i:024d}", State="poster01", WelcomeCode=f"WC{i}")
        encrypted = crypt.encrypt(inner.encode())
        timestamp, nonce = str(now), f"n{i}"
        signature = crypt.signature(timestamp, nonce, encrypted)
        body = (f"<xml><ToUserName><![CDATA[{connection.corp_id}]]></ToUserName>"
                f"<Encrypt><![CDATA[{encrypted}]]></Encrypt><AgentID><![CDATA[1000002]]></AgentID></xml>").encode()
        query = urllib.parse.urlencode({"msg_signature": signature, "timestamp": timestamp, "nonce": nonce})
        head = (f"POST /wecom/callback/{slug}/?{query} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Content-Type: text/xml\r\nContent-Length: {len(body)}\r\n\r\n").encode()
        requests.append(head + body)
        raw.append((signature, timestamp, nonce, body))
    return requests, raw


async def _client(port: int, queue: list[bytes], latencies: list[float], statuses: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while queue:
            request = queue.pop()
            started = time.perf_counter()
            writer.write(request)
            await writer.drain()
            status_line = await reader.readline()
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            statuses.append(int(status_line.split()[1]))
    finally:
        writer.close()


async def _load(port: int, requests: list[bytes]) -> tuple[list[float], list[int]]:
    queue = list(reversed(requests))
    latencies: list[float] = []
    statuses: list[int] = []
    await asyncio.gather(*(_client(port, queue, latencies, statuses) for _ in range(CONNECTIONS)))
    return latencies, statuses


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def run() -> list[dict]:
    data_dir = setup_django()
    from siyu.wecom.crypto import WXBizMsgCrypt
    from siyu.wecom.models import CallbackEvent
    from tests.factories import make_org
    from tests.wecom.helpers import connect

    org = make_org()
    connection = connect(org)
    requests, raw = _requests(connection, org.slug, CALLBACKS)

    crypt = WXBizMsgCrypt(connection.callback_token, connection.encoding_aes_key, connection.corp_id)
    with stopwatch() as elapsed:
        for signature, timestamp, nonce, body in raw:
            crypt.decrypt_message(signature, timestamp, nonce, body)
    decrypt_rate = len(raw) / elapsed()

    with siyu_web(data_dir, workers=WEB_WORKERS) as port:
        asyncio.run(_load(port, requests[:500]))  # warm up every worker and connection
        CallbackEvent.objects.for_org(org).delete()
        with stopwatch() as elapsed:
            latencies, statuses = asyncio.run(_load(port, requests))
        seconds = elapsed()
    stored = CallbackEvent.objects.for_org(org).count()
    ok = statuses.count(200)
    if ok != CALLBACKS or stored != CALLBACKS:
        raise RuntimeError(f"{ok} acknowledged and {stored} stored of {CALLBACKS} callbacks")
    rate = CALLBACKS / seconds
    return [
        figure("callbacks handled end to end", rate, "callbacks/s", limit_value=decrypt_rate, limit_unit="decrypts/s",
               notes=(f"{CALLBACKS:,} distinct add_external_contact callbacks over {CONNECTIONS} keep-alive connections "
                      f"to `siyu web` ({WEB_WORKERS} granian workers, SQLite), each verified, decrypted, parsed, stored "
                      f"and acknowledged, in {seconds:.1f} s; goal ≥ 1,000/s. Limit: decrypt_message alone, one process")),
        figure("acknowledgement latency p99", _percentile(latencies, 99) * 1000, "ms",
               notes=f"p50 {_percentile(latencies, 50) * 1000:.1f} ms, max {max(latencies) * 1000:.1f} ms; goal p99 < 100 ms"),
    ]
