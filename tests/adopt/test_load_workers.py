"""--load-workers: a LocustLoad on Locust's distributed mode (a master and N local worker processes),
against a throwaway HTTP server in this process. The figures come from the master and cover the
workers' requests; nothing is left running. No containers (about 15 s)."""
from __future__ import annotations

import http.server
import threading

import pytest

from alertdrill.load import distributed
from alertdrill.load.locust import LocustLoad

LOCUSTFILE = '''from locust import HttpUser, constant, task


class Visitor(HttpUser):
    wait_time = constant(0.05)

    @task
    def home(self):
        self.client.get("/hello")
'''


class Counting(http.server.BaseHTTPRequestHandler):
    served = 0
    lock = threading.Lock()

    def do_GET(self):
        with Counting.lock:
            Counting.served += 1
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Counting)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def test_two_workers_run_the_users_and_the_master_reports(server, tmp_path):
    lf = tmp_path / "visit.py"
    lf.write_text(LOCUSTFILE)
    Counting.served = 0
    load = LocustLoad(lf, host=server, users=4, spawn_rate=4, run_time=4, workers=2, out_dir=tmp_path / "load")
    assert "--master" in load.command() and "--expect-workers" in load.command()
    stats = load.start().wait()
    assert stats.source == "report", load.log_tail()
    assert stats.requests("/hello") > 0 and stats.failures() == 0, stats.summary()
    # the master's figures are the workers' requests: the server saw (at least) what the master counted
    assert Counting.served >= stats.requests("/hello")
    assert stats.users == {"Visitor": 4}
    logs = sorted(p.name for p in load.run_dir.glob("worker-*.log"))
    assert logs == ["worker-0.log", "worker-1.log"]
    assert load._workers.running == 0 and not load.running


def test_the_default_comes_from_configure_and_is_checked(tmp_path):
    lf = tmp_path / "visit.py"
    lf.write_text(LOCUSTFILE)
    distributed.configure(3)
    try:
        assert LocustLoad(lf, host="http://127.0.0.1:1", users=1, spawn_rate=1, run_time=1).workers == 3
        assert LocustLoad(lf, host="http://127.0.0.1:1", users=1, spawn_rate=1, run_time=1, workers=0).workers == 0
    finally:
        distributed.configure(0)
    with pytest.raises(ValueError, match=r"workers=-1: expected an integer >= 0"):
        LocustLoad(lf, host="http://127.0.0.1:1", users=1, spawn_rate=1, run_time=1, workers=-1)
