"""Holds many connections open against a server: half idle (connected, nothing sent), half
slowloris (a request head that never ends, one byte every few seconds). A connection the
server closes is opened again after a short pause. The connections come from many source
addresses (127.0.0.2 onwards), since a server may cap connections per client address.

    connhold.py --port P [--tls] [--conns 10000] [--sources 40] [--interval 5]

Prints one JSON line a second: open (connected now), connects (in all), closed (by the
server), errors (connects that failed). Stops on SIGTERM. Used by bench/stamina.py; not a test.
"""
import argparse
import asyncio
import json
import random
import resource
import signal
import ssl
import sys
import time

HEAD = b"GET /v2/ HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: connhold\r\nX-Slow: "


class Stats:
    def __init__(self):
        self.open = self.connects = self.closed = self.errors = 0
        self.why = {}


async def one(i, a, st, ctx, gate, stop):
    src = f"127.0.0.{2 + i % a.sources}"
    slow = i % 2 == 1
    while not stop.is_set():
        w = None
        try:
            async with gate:  # bounds the handshakes in flight
                r, w = await asyncio.wait_for(
                    asyncio.open_connection("127.0.0.1", a.port, ssl=ctx, local_addr=(src, 0),
                                            server_hostname="127.0.0.1" if ctx else None), 30)
            st.open += 1
            st.connects += 1
            try:
                if slow:
                    w.write(HEAD)
                    await w.drain()
                    # a first pause at random, so the bytes of all connections spread evenly
                    wait = random.uniform(0, a.interval)
                    while not stop.is_set():
                        try:
                            if not await asyncio.wait_for(r.read(4096), wait):
                                break  # closed by the server
                        except asyncio.TimeoutError:
                            w.write(b"a")
                            await w.drain()
                        wait = a.interval
                else:
                    while not stop.is_set() and await r.read(4096):
                        pass
            finally:
                st.open -= 1
            if not stop.is_set():
                st.closed += 1
        except (OSError, asyncio.TimeoutError, ssl.SSLError, ConnectionError) as e:
            if stop.is_set():
                break
            st.errors += 1
            st.why[type(e).__name__ + ": " + str(e)[:80]] = st.why.get(type(e).__name__ + ": " + str(e)[:80], 0) + 1
        finally:
            if w:
                w.transport.abort()
        await asyncio.sleep(0.2 + random.random())


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--tls", action="store_true")
    ap.add_argument("--conns", type=int, default=10000)
    ap.add_argument("--first", type=int, default=0, help="number of the first connection (several holders)")
    ap.add_argument("--sources", type=int, default=40)
    ap.add_argument("--interval", type=float, default=5.0)
    a = ap.parse_args()
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    ctx = None
    if a.tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.set_alpn_protocols(["http/1.1"])
    st, stop = Stats(), asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    gate = asyncio.Semaphore(200)
    tasks = [asyncio.create_task(one(a.first + i, a, st, ctx, gate, stop)) for i in range(a.conns)]
    t0 = time.monotonic()
    while not stop.is_set():
        print(json.dumps({"t": round(time.monotonic() - t0, 2), "open": st.open, "connects": st.connects,
                          "closed": st.closed, "errors": st.errors, "why": st.why}), flush=True)
        try:
            await asyncio.wait_for(stop.wait(), 1)
        except asyncio.TimeoutError:
            pass
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    print(json.dumps({"t": round(time.monotonic() - t0, 2), "open": 0, "connects": st.connects,
                      "closed": st.closed, "errors": st.errors, "done": True}), flush=True)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
