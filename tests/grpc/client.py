"""A gRPC client nobody here wrote (grpcio, with grpcio-health-checking),
driven by the integration tests in tests/grpc/. Each command prints one JSON
object per line on stdout, for the test to read.

    client.py health ADDR
        Watches "unknown" for its first status ({"watch_unknown": STATUS}),
        then watches "" and, at each status the watch yields, checks "",
        "fixture.Work" and "unknown" on a new connection. Prints
        {"watch": STATUS, "checks": {...}} per status, then {"watch_end": CODE}.

    client.py load TARGET THREADS [--retry] [--health]
        Calls fixture.Work/Unary (5 ms of work) from THREADS threads until a
        line arrives on stdin. Prints {"running": true} once 50 calls were
        answered, and at the end {"ok": N, "codes": {CODE: N}}: every
        outcome, by status code ("UNAVAILABLE (refused)" when the server
        refused the call). --retry turns on a retry policy for
        UNAVAILABLE; --health, round-robin with client-side health checking.

    Either command takes `--tls CERT`: TLS, trusting the certificate CERT.
"""

import json
import sys
import threading

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


# With `--tls CERT` anywhere on the command line: TLS, trusting CERT.
TLS_CA = sys.argv[sys.argv.index("--tls") + 1] if "--tls" in sys.argv else None


def open_channel(addr, options=()):
    if TLS_CA is None:
        return grpc.insecure_channel(addr, options=list(options))
    with open(TLS_CA, "rb") as ca:
        credentials = grpc.ssl_channel_credentials(root_certificates=ca.read())
    return grpc.secure_channel(addr, credentials, options=list(options))


def say(obj):
    print(json.dumps(obj), flush=True)


def status_name(status):
    return health_pb2.HealthCheckResponse.ServingStatus.Name(status)


def check_all(addr):
    checks = {}
    with open_channel(addr) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        for service in ["", "fixture.Work", "unknown"]:
            try:
                reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
                checks[service] = status_name(reply.status)
            except grpc.RpcError as err:
                checks[service] = err.code().name
    return checks


def health(addr):
    with open_channel(addr) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        # A service nobody added: SERVICE_UNKNOWN, and the call stays open.
        unknown = stub.Watch(health_pb2.HealthCheckRequest(service="unknown"), timeout=60)
        say({"watch_unknown": status_name(next(unknown).status)})
        unknown.cancel()
        watch = stub.Watch(health_pb2.HealthCheckRequest(service=""), timeout=60)
        try:
            for reply in watch:
                say({"watch": status_name(reply.status), "checks": check_all(addr)})
            say({"watch_end": watch.code().name})
        except grpc.RpcError as err:
            say({"watch_end": err.code().name, "details": err.details()})


def job(ms):
    # fixture.Job { ms = 1 }: field 1, varint.
    return bytes([0x08, ms])


def load(target, threads, retry, health_check):
    config = {}
    if health_check:
        config["loadBalancingConfig"] = [{"round_robin": {}}]
        config["healthCheckConfig"] = {"serviceName": ""}
    if retry:
        config["methodConfig"] = [{
            "name": [{"service": "fixture.Work"}],
            "retryPolicy": {
                "maxAttempts": 5,
                "initialBackoff": "0.02s",
                "maxBackoff": "0.2s",
                "backoffMultiplier": 2,
                "retryableStatusCodes": ["UNAVAILABLE"],
            },
        }]
    options = [
        ("grpc.service_config", json.dumps(config)),
        ("grpc.enable_retries", 1 if retry else 0),
        # A target of several addresses is no authority (HTTP/2 refuses it).
        ("grpc.default_authority", "localhost"),
    ]
    channel = open_channel(target, options)
    unary = channel.unary_unary("/fixture.Work/Unary")
    stop = threading.Event()
    lock = threading.Lock()
    ok = [0]
    codes = {}
    running = threading.Event()

    def worker():
        while not stop.is_set():
            try:
                unary(job(5), timeout=10)
                with lock:
                    ok[0] += 1
                    if ok[0] == 50:
                        running.set()
            except grpc.RpcError as err:
                # Ours (the server refused the call) or the channel's (no
                # connection), told apart by the message.
                ours = err.details() == "the server is shutting down"
                name = err.code().name + (" (refused)" if ours else "")
                with lock:
                    codes[name] = codes.get(name, 0) + 1

    workers = [threading.Thread(target=worker) for _ in range(threads)]
    for w in workers:
        w.start()
    running.wait()
    say({"running": True})
    sys.stdin.readline()
    stop.set()
    for w in workers:
        w.join()
    channel.close()
    say({"ok": ok[0], "codes": codes})


def main():
    command = sys.argv[1]
    if command == "health":
        health(sys.argv[2])
    elif command == "load":
        load(sys.argv[2], int(sys.argv[3]), "--retry" in sys.argv, "--health" in sys.argv)
    else:
        raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    main()
