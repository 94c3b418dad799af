"""A minimal HTTP/2 client over raw frames (prior knowledge on a plain port), for tests that need
what curl and requests cannot do: resetting a stream in the middle of its body. Flow control is
kept as the server's WINDOW_UPDATE frames say; headers go literal, unindexed."""
import select
import socket
import struct
import time

DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE = 0, 1, 3, 4, 6, 7, 8


def _int(n, bits, first=0):
    top = (1 << bits) - 1
    if n < top:
        return bytes([first | n])
    out = [first | top]
    n -= top
    while n >= 128:
        out.append((n & 127) | 128)
        n >>= 7
    return bytes(out + [n])


def _headers(pairs):
    out = b""
    for k, v in pairs:
        k, v = k.encode(), v.encode()
        out += b"\x00" + _int(len(k), 7) + k + _int(len(v), 7) + v
    return out


class H2:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.s.setblocking(False)
        self.buf, self.conn_win, self.init_win, self.max_frame = b"", 65535, 65535, 16384
        self.win, self.ended, self.status, self.next_id, self.rst = {}, set(), {}, 1, {}
        self._send(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + self._frame(SETTINGS, 0, 0, b""))

    @staticmethod
    def _frame(kind, flags, sid, payload):
        return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", sid) + payload

    def _send(self, b):
        while b:
            try:
                b = b[self.s.send(b):]
            except BlockingIOError:
                self.poll(0.01)

    def poll(self, timeout=0.0):
        select.select([self.s], [], [], timeout)
        while True:
            try:
                d = self.s.recv(1 << 20)
            except BlockingIOError:
                break
            if not d:
                raise ConnectionError("the server closed the connection")
            self.buf += d
        while len(self.buf) >= 9 and len(self.buf) >= 9 + int.from_bytes(self.buf[:3], "big"):
            n = int.from_bytes(self.buf[:3], "big")
            kind, flags, sid = self.buf[3], self.buf[4], int.from_bytes(self.buf[5:9], "big") & 0x7fffffff
            p, self.buf = self.buf[9:9 + n], self.buf[9 + n:]
            if kind == SETTINGS and not flags & 1:
                for i in range(0, len(p), 6):
                    k, v = struct.unpack(">HI", p[i:i + 6])
                    if k == 4:
                        for s in self.win:
                            self.win[s] += v - self.init_win
                        self.init_win = v
                    elif k == 5:
                        self.max_frame = v
                self._send(self._frame(SETTINGS, 1, 0, b""))
            elif kind == WINDOW_UPDATE:
                inc = struct.unpack(">I", p)[0] & 0x7fffffff
                if sid == 0:
                    self.conn_win += inc
                elif sid in self.win:
                    self.win[sid] += inc
            elif kind == HEADERS:
                self.status.setdefault(sid, 200 if p[:1] == b"\x88" else p[:1])
                if flags & 1:
                    self.ended.add(sid)
            elif kind == DATA:
                if flags & 1:
                    self.ended.add(sid)
                if p:
                    self._send(self._frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", len(p))) +
                               self._frame(WINDOW_UPDATE, 0, sid, struct.pack(">I", len(p))))
            elif kind == RST_STREAM:
                self.ended.add(sid)
                self.rst[sid] = struct.unpack(">I", p)[0]
            elif kind == PING and not flags & 1:
                self._send(self._frame(PING, 1, 0, p))

    def request(self, method, path, headers=()):
        sid, self.next_id = self.next_id, self.next_id + 2
        self.win[sid] = self.init_win
        self._send(self._frame(HEADERS, 4, sid, _headers([(":method", method), (":scheme", "http"),
                                                          (":authority", "x"), (":path", path), *headers])))
        return sid

    def data(self, sid, data, end=False, timeout=10):
        """Sends as much of data as flow control lets through within timeout: the bytes sent."""
        off, t0 = 0, time.monotonic()
        while off < len(data) and sid not in self.ended:
            self.poll(0)
            n = min(len(data) - off, self.conn_win, self.win[sid], self.max_frame)
            if n <= 0:
                if time.monotonic() - t0 > timeout:
                    break
                self.poll(0.05)
                continue
            self._send(self._frame(DATA, 1 if end and off + n == len(data) else 0, sid, data[off:off + n]))
            self.conn_win -= n
            self.win[sid] -= n
            off += n
        return off

    def reset(self, sid):
        self._send(self._frame(RST_STREAM, 0, sid, struct.pack(">I", 8)))  # CANCEL

    def wait(self, sid, timeout=10):
        t0 = time.monotonic()
        while sid not in self.ended and time.monotonic() - t0 < timeout:
            self.poll(0.05)
        return sid in self.ended

    def close(self):
        self.s.close()
