"""Load from clients that never retry (unlike Bun's fetch), for the claims about zero failed requests.

    python3 http_load.py --port P --name N --ca ROOTS.pem [--keep-alive K] [--new N] [--post P] [--seconds S]

Three kinds of client, each a thread looping until SIGTERM (or --seconds): keep-alive GETs on one
connection (reopened only after a `Connection: close` answer or a failure), a new connection per
GET, and keep-alive POSTs with a 1 kB body. Every request is verified (TLS against ROOTS.pem for the
name N sent as SNI and Host; status 200; the body the server echoes). Any exception or other status
is a failure, never retried. Prints one JSON line: ok, failed, errors (by kind), and the serial
numbers of the certificates seen.
"""
import argparse, http.client, json, os, signal, socket, ssl, sys, threading, time

parser = argparse.ArgumentParser()
parser.add_argument("--host", default="127.0.0.1")
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--name", required=True)
parser.add_argument("--ca", required=True)
parser.add_argument("--keep-alive", type=int, default=4)
parser.add_argument("--new", type=int, default=4)
parser.add_argument("--post", type=int, default=2)
parser.add_argument("--seconds", type=float, default=600)
parser.add_argument("--path", default="/")
args = parser.parse_args()

context = ssl.create_default_context(cafile=args.ca)
stop = threading.Event()
lock = threading.Lock()
stats = {"ok": 0, "failed": 0, "errors": {}, "serials": set()}


class Connection(http.client.HTTPSConnection):
    """Connects to --host but sends the site's name as SNI and Host."""

    def connect(self):
        raw = socket.create_connection((args.host, self.port), self.timeout)
        self.sock = context.wrap_socket(raw, server_hostname=self.host)


def record(error=None, serial=None):
    with lock:
        if error is None:
            stats["ok"] += 1
        else:
            stats["failed"] += 1
            kind = f"{type(error).__name__}: {str(error)[:80]}"
            stats["errors"][kind] = stats["errors"].get(kind, 0) + 1
        if serial and serial not in stats["serials"]:
            stats["serials"].add(serial)
            print(f"serial {serial}", file=sys.stderr, flush=True)  # a test may await the clients meeting a new certificate


def client(kind):
    connection = None
    body = b"x" * 1000
    while not stop.is_set():
        try:
            if connection is None or kind == "new":
                if connection is not None:
                    connection.close()
                connection = Connection(args.name, args.port, timeout=15)
                connection.connect()
            serial = connection.sock.getpeercert().get("serialNumber")
            if kind == "post":
                connection.request("POST", args.path, body=body, headers={"content-type": "application/octet-stream"})
            else:
                connection.request("GET", args.path)
            response = connection.getresponse()
            data = response.read()
            if response.status != 200:
                raise RuntimeError(f"HTTP {response.status}: {data[:60]!r}")
            record(serial=serial)
            if response.will_close:
                connection.close()
                connection = None
        except Exception as error:  # every failure counts; nothing is retried
            record(error)
            if connection is not None:
                connection.close()
            connection = None
    if connection is not None:
        connection.close()


signal.signal(signal.SIGTERM, lambda *_: stop.set())


def orphan_watch(parent):
    """Stops the load when the test that started it is gone (a test that failed before stopping it)."""
    while not stop.wait(1):
        if os.getppid() != parent:
            stop.set()


threading.Thread(target=orphan_watch, args=(os.getppid(),), daemon=True).start()
threads = [threading.Thread(target=client, args=(kind,)) for kind in ["keep-alive"] * args.keep_alive + ["new"] * args.new + ["post"] * args.post]
for thread in threads:
    thread.start()
print("started", file=sys.stderr, flush=True)
stop.wait(args.seconds)
stop.set()
for thread in threads:
    thread.join()
stats["serials"] = sorted(stats["serials"])
print(json.dumps(stats), flush=True)
