"""A stand-in OpenTelemetry collector for measuring Portico with tracing on: accepts OTLP/HTTP exports on a
loopback port, answers each with an empty success and only counts requests and bytes (a real collector would
run on another machine; decoding here would bill its CPU to Portico's two cores).

    python -m bench.otlp_sink --seconds 600 &
    OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 make up && python -m bench.links

It stops by itself after --seconds; it prints what it received when it stops.
"""
import argparse
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=4318)
    parser.add_argument("--seconds", type=float, default=900.0, help="stop after this long")
    args = parser.parse_args()
    received = {"exports": 0, "bytes": 0}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            self.rfile.read(length)
            with lock:
                received["exports"] += 1
                received["bytes"] += length
            self.send_response(200)
            self.send_header("content-type", "application/x-protobuf")
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    started = time.monotonic()
    try:
        while time.monotonic() - started < args.seconds:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    server.shutdown()
    print(f"otlp sink: {received['exports']:,} exports, {received['bytes']:,} bytes in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
