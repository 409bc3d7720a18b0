"""Two adc-server instances on one PostgreSQL database behind Debian's HAProxy with health
checks (docs/product.md section 12): "sync now" given to either instance reaches the agent,
which talks to the cluster only through HAProxy; kill -9 of the instance the agent uses: HAProxy
takes it out, the agent connects again through HAProxy to the other instance and receives the
command queued meanwhile. The agent is simulated with the channel's HTTP calls
(docs/agent-protocol.md); the real `adc run` against one instance is test_agent's."""
import shutil
import time
import unittest

from harness import postgres
from harness.haproxy import HAPROXY, HAProxy
from harness.server import AdcServer, basic_auth


@unittest.skipUnless(postgres.bin_dir() and shutil.which(HAPROXY), "needs PostgreSQL and HAProxy")
class TwoInstancesBehindHAProxy(unittest.TestCase):
    def test_sync_now_and_kill_9(self):
        a = AdcServer(engine="postgresql").start()
        self.addCleanup(a.cleanup)
        b = AdcServer(db=a.db, admin_token=a.admin_token).start()
        self.addCleanup(b.cleanup)
        lb = HAProxy([("a", "127.0.0.1", a.port), ("b", "127.0.0.1", b.port)])
        lb.open()
        self.addCleanup(lb.close)
        lb.wait_up(2)
        cfg = a.create_sync_config("behind-haproxy")
        auth = basic_auth(cfg["app_id"], cfg["secret"])
        # Requests through HAProxy: the harness's request() with the proxy's URL.
        via = AdcServer(db=a.db, admin_token=a.admin_token)
        via.port = lb.port

        def connect():
            r = via.request("POST", "/api/v1/agent/connect", {"host": "dc1", "version": "t"},
                            auth=auth)
            self.assertEqual(r.status, 201, r)
            return r.body["agent_id"]

        def poll(agent_id, wait):
            return via.request("GET", "/api/v1/agent/commands?agent_id=%s&wait=%d"
                               % (agent_id, wait), auth=auth, timeout=wait + 10)

        def finish(run_id):  # the agent reports the run done, through HAProxy
            r = via.request("PUT", "/api/v1/agent/runs/" + run_id, {"status": "succeeded"},
                            auth=auth)
            self.assertEqual(r.status, 204, r)

        agent = connect()
        holder = a if a.admin("GET", "/metrics").raw.count(b"adc_connected_agents 1") else b
        other = b if holder is a else a
        for srv in (a, b):  # sync now through each instance
            r = srv.admin("POST", "/api/v1/sync-configs/%s/sync" % cfg["app_id"], {})
            self.assertEqual(r.status, 202, r)
            got = poll(agent, 10)
            self.assertEqual(got.status, 200, got)
            self.assertEqual([c["run_id"] for c in got.body["commands"]], [r.body["run_id"]])
            finish(r.body["run_id"])

        # The agent's instance dies; a sync is asked of the survivor meanwhile.
        holder.proc.kill()
        holder.proc.wait()
        r = other.admin("POST", "/api/v1/sync-configs/%s/sync" % cfg["app_id"], {})
        self.assertEqual(r.status, 202, r)  # the dead instance's agent still counts a while
        lb.wait_up(1)
        # The agent notices (its poll fails), connects again through HAProxy: to the survivor.
        self.assertNotEqual(poll(agent, 1).status, 200)
        agent = connect()
        deadline = time.time() + 30
        cmds = []
        while not cmds and time.time() < deadline:
            got = poll(agent, 5)
            self.assertEqual(got.status, 200, got)
            cmds = got.body["commands"]
        self.assertEqual([c["run_id"] for c in cmds], [r.body["run_id"]])
        self.assertIn(b"adc_connected_agents 1", other.admin("GET", "/metrics").raw)


if __name__ == "__main__":
    unittest.main()
