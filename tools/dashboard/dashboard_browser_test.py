"""slackerctl dashboard in a real browser (Debian's chromium, headless, driven
through chromedriver by selenium), against a real ZooKeeper (tools:zookeeper)
and real example servers (examples:server) in child processes.

The page must list the cluster's namespaces, servers and leader; show a server
started after it loaded, drop one killed with SIGKILL and move the leader mark;
show malformed and untrusted registry nodes that this test writes with the
stock zkCli.sh as such and keep working; survive hostile HTTP requests; chart
a server's call rate from its /metrics; and say so when ZooKeeper is gone. Screenshots are kept in
$TEST_UNDECLARED_OUTPUTS_DIR.

Server A runs with --metrics_port=0: its own Prometheus exposer, whose port it
publishes in its server data ("metrics_port", which the dashboard scrapes at
the server's registered host), while `slackerctl call --rate` sends it calls.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

ZOOKEEPER, SERVER, SLACKERCTL = sys.argv[1:4]
del sys.argv[1:4]
TMP = os.environ.get("TEST_TMPDIR", "/tmp")
OUT = os.environ.get("TEST_UNDECLARED_OUTPUTS_DIR", TMP)
CLUSTER = "dash"
API = "slacker.example.Api"
ZKCLI = "/usr/share/zookeeper/bin/zkCli.sh"
WAIT = 60  # Seconds any one expected change may take (a kill -9 waits for the session).


def first_line(process, prefix, timeout=60):
    """The first stdout line of `process` starting with `prefix`, else fail."""
    deadline = time.time() + timeout
    result = {}

    def read():
        for line in process.stdout:
            if line.startswith(prefix):
                result["line"] = line.strip()
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(max(0, deadline - time.time()))
    if "line" not in result:
        raise AssertionError("%s printed no line starting with %r" % (process.args[0], prefix))
    # Keep draining so that the child never blocks on a full pipe.
    threading.Thread(target=lambda: [None for _ in process.stdout], daemon=True).start()
    return result["line"]


class DashboardBrowserTest(unittest.TestCase):
    def setUp(self):
        self.children = []
        self.zk = self.spawn([ZOOKEEPER, "--port=0"])
        self.connect = first_line(self.zk, "127.0.0.1:")
        self.browser = None

    def tearDown(self):
        if self.browser is not None:
            self.browser.quit()
        # Last started first: ZooKeeper outlives the servers' shutdown.
        for child in reversed(self.children):
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()

    def spawn(self, argv):
        child = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
        self.children.append(child)
        return child

    def start_server(self, server_data="", metrics=False, extra=()):
        child = self.spawn([SERVER, "--zk=" + self.connect, "--cluster=" + CLUSTER, "--port=0",
                            "--server_data=" + server_data] +
                           (["--metrics_port=0"] if metrics else []) + list(extra))
        return child, first_line(child, "published ").split(" ", 1)[1]

    def zk_create(self, path, data):
        run = subprocess.run([ZKCLI, "-server", self.connect, "create", path, data],
                             capture_output=True, text=True, timeout=60)
        self.assertIn("Created", run.stdout + run.stderr, "zkCli.sh create %s failed" % path)

    def raw_request(self, port, data):
        """What the dashboard answers to `data`; b"" if it hung up first."""
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            try:  # It may close on a bad request before reading it all.
                s.sendall(data)
                s.shutdown(socket.SHUT_WR)
                return s.recv(100)
            except OSError:
                return b""

    def until(self, what, check):
        deadline = time.time() + WAIT
        last = None
        while time.time() < deadline:
            try:
                last = check()
                if last:
                    return last
            except Exception as e:  # The page is being redrawn.
                last = e
            time.sleep(0.2)
        self.browser.save_screenshot(os.path.join(OUT, "timed_out.png"))
        self.fail("timed out waiting for %s (last: %r); page text:\n%s"
                  % (what, last, self.browser.find_element(By.TAG_NAME, "body").text))

    # The page redraws every second: each read below is one script, which
    # runs between two redraws, never across one (no stale elements).
    def members(self, ns):
        return sorted(self.browser.execute_script(
            "const s = [...document.querySelectorAll('section.ns')]"
            "    .find(e => e.dataset.ns === arguments[0]);"
            "return s ? [...s.querySelectorAll('tr.member')].map(tr => tr.dataset.address) : [];",
            ns))

    def leader(self, ns):
        marked = self.browser.execute_script(
            "const s = [...document.querySelectorAll('section.ns')]"
            "    .find(e => e.dataset.ns === arguments[0]);"
            "return s ? [...s.querySelectorAll('tr.member')]"
            "    .filter(tr => tr.querySelector('.leader')).map(tr => tr.dataset.address) : [];",
            ns)
        return marked[0] if len(marked) == 1 else None

    def rows(self, table):
        return dict(self.browser.execute_script(
            "return [...document.querySelectorAll('#' + arguments[0] + ' tr.' + arguments[0])]"
            "    .map(tr => [tr.dataset.path, tr.querySelector('.reason').textContent]);",
            table))

    def text(self, selector):
        return self.browser.execute_script(
            "const e = document.querySelector(arguments[0]); return e ? e.textContent : '';",
            selector)

    def screenshot(self, name):
        path = os.path.join(OUT, name)
        self.assertTrue(self.browser.save_screenshot(path), "no screenshot " + path)
        self.assertGreater(os.path.getsize(path), 1000)

    def open_browser(self, url):
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        profile = os.path.join(TMP, "chromium-profile")
        shutil.rmtree(profile, ignore_errors=True)
        for flag in ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                     "--no-first-run", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync",
                     "--disable-dev-shm-usage", "--window-size=1400,1000",
                     "--user-data-dir=" + profile]:
            options.add_argument(flag)
        service = Service(executable_path="/usr/bin/chromedriver",
                          env=dict(os.environ, HOME=TMP))
        self.browser = webdriver.Chrome(service=service, options=options)
        self.browser.get(url)

    def start_dashboard(self, extra=()):
        dashboard = self.spawn([SLACKERCTL, "--zk=" + self.connect, "--cluster=" + CLUSTER] +
                               list(extra) + ["dashboard", "--port=0"])
        url = first_line(dashboard, "dashboard of cluster ").rsplit(" ", 1)[1]
        return dashboard, url, int(url.rstrip("/").rsplit(":", 1)[1])

    def test_a_creator_only_cluster_with_its_digest(self):
        # Only alice's identity may read this cluster's nodes: without
        # --digest the dashboard would show no server at all.
        _, address = self.start_server(extra=["--digest=alice:alice-secret",
                                              "--digest_reads=creator"])
        _, url, _ = self.start_dashboard(["--digest=alice:alice-secret"])
        self.open_browser(url)
        self.until("the server in " + API, lambda: self.members(API) == [address])

    def test_live_cluster_in_the_browser(self):
        a, a_address = self.start_server('{"zone":"a"}', metrics=True)
        b, b_address = self.start_server('{"zone":"b"}')
        dashboard, url, port = self.start_dashboard()
        self.open_browser(url)

        # Namespaces, servers and leader.
        self.until("both servers in " + API,
                   lambda: self.members(API) == sorted([a_address, b_address]))
        self.until("the same in slacker.example.Api2",
                   lambda: self.members("slacker.example.Api2") == sorted([a_address, b_address]))
        self.assertEqual(self.until("a leader", lambda: self.leader(API)), a_address)
        self.until("server data", lambda: '"zone":"b"' in self.text(
            'tr.server[data-address="%s"] .data' % b_address))
        self.until("health", lambda: "SERVING" in self.text(
            'tr.server[data-address="%s"] .health' % a_address))
        # A's call rate from its own /metrics, while calls reach it.
        self.spawn([SLACKERCTL, "--zk=" + self.connect, "--cluster=" + CLUSTER, "call",
                    API + "/Echo", '{"text":"hi"}', "--grouping=" + a_address,
                    "--rate=20", "--duration=120s"])
        self.until("a chart for " + a_address, lambda: self.browser.execute_script(
            "return document.querySelectorAll(arguments[0]).length",
            'tr.server[data-address="%s"] svg.chart polyline' % a_address) == 2)
        rate = re.compile(r"([0-9.]+) calls/s")

        def calls_per_second():
            found = rate.search(self.text('tr.server[data-address="%s"] .chartlabel' % a_address))
            return found is not None and float(found.group(1)) > 0

        self.until("a call rate above 0", calls_per_second)

        # A server started after the page loaded appears, without a reload.
        loaded = self.browser.execute_script("return performance.timeOrigin")
        c, c_address = self.start_server()
        self.until(c_address + " listed",
                   lambda: self.members(API) == sorted([a_address, b_address, c_address]))

        # Malformed and untrusted registry data show as such.
        junk = "/slacker/cluster/%s/servers/10.9.9.9:1" % CLUSTER
        foreign = "/slacker/cluster/%s/namespaces/%s/10.9.9.8:1" % (CLUSTER, API)
        self.zk_create(junk, "{not json")
        self.zk_create(foreign, "x")
        self.until("the junk server node as malformed", lambda: junk in self.rows("malformed"))
        self.assertIn("ServerInfo", self.rows("malformed")[junk])
        self.until("the foreign publisher as ignored", lambda: foreign in self.rows("ignored"))
        self.assertIn("ephemeral", self.rows("ignored")[foreign])
        self.assertNotIn("10.9.9.8:1", self.members(API))
        self.screenshot("dashboard.png")

        # A server killed with SIGKILL disappears and the leader mark moves.
        a.kill()
        a.wait()
        self.until(a_address + " gone", lambda: self.members(API) == sorted([b_address, c_address]))
        self.assertEqual(self.until("a new leader", lambda: self.leader(API)), b_address)
        self.assertEqual(self.text('tr.server[data-address="%s"]' % a_address), "")

        # Hostile requests: civetweb answers them; the page keeps updating.
        for data in [os.urandom(4096), b"GET /" + b"A" * 100000 + b" HTTP/1.1\r\n\r\n",
                     b"GET / HTTP/1.1\r\nX: " + b"y" * 60000 + b"\r\n\r\n",
                     b"POST /api/cluster HTTP/1.1\r\nContent-Length: 999999999\r\n\r\nab",
                     b"GET /../../../etc/passwd HTTP/1.1\r\n\r\n", b"\r\n\r\n", b""]:
            answer = self.raw_request(port, data)
            self.assertNotIn(b"root:", answer)
        d, d_address = self.start_server()
        self.until(d_address + " listed after the malformed data",
                   lambda: self.members(API) == sorted([b_address, c_address, d_address]))
        self.assertEqual(loaded, self.browser.execute_script("return performance.timeOrigin"),
                         "the page was reloaded")
        self.assertIsNone(dashboard.poll(), "the dashboard exited")
        self.screenshot("dashboard_after_kill.png")

        # ZooKeeper gone: the page says so and keeps the last picture.
        self.zk.send_signal(signal.SIGTERM)
        self.zk.wait(timeout=30)
        self.until("ZooKeeper's loss on the page", lambda: "SUSPENDED" in self.text("#status"))
        self.assertEqual(self.members(API), sorted([b_address, c_address, d_address]))


if __name__ == "__main__":
    unittest.main()
