"""The real @segment/analytics-node (Segment's Node server library, an exact devDependency
of sdk_js), unchanged but for its host, pointed at the collector."""

import json
import subprocess
from pathlib import Path

SDK = Path(__file__).resolve().parents[2] / "sdk_js"

# run with cwd=sdk_js: an --eval module resolves its imports from there
SCRIPT = """
import { Analytics } from '@segment/analytics-node'
const [writeKey, host] = process.argv.slice(1)
const a = new Analytics({ writeKey, host, flushAt: 4, maxRetries: 0 })
const out = { errors: [], sent: [] }
a.on('error', (e) => out.errors.push(String(e && (e.reason || e.message || e.code))))
a.on('http_request', (r) => out.sent.push(r.url))
a.identify({ userId: 'node-7', anonymousId: 'anon-node-7', traits: { email: 'n7@example.com' } })
a.track({ userId: 'node-7', event: 'Order Completed', properties: { revenue: 12.5, category: 'yoga' } })
a.page({ anonymousId: 'anon-node-7', name: 'Home', properties: { url: 'https://shop.example/?utm_source=node' } })
a.screen({ userId: 'node-7', name: 'Settings' })
a.group({ userId: 'node-7', groupId: 'acme' })
a.alias({ userId: 'node-7', previousId: 'anon-node-7' })
await a.closeAndFlush({ timeout: 20000 })
console.log(JSON.stringify(out))
"""


def _run(server):
    p = subprocess.run(["node", "--input-type=module", "-e", SCRIPT, server.site.write_key, server.url],
                       cwd=SDK, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout.strip().splitlines()[-1])


def test_segment_node_library_round_trip(server):
    out = _run(server)
    assert out["errors"] == []
    # six calls, flushAt 4: two batches, both to the Segment path of the HTTP API
    assert out["sent"] == [server.url + "/v1/batch"] * 2
    server.flush()
    rows = server.sql("SELECT type, event, name, user_id, anonymous_id, library, utm_source, "
                      "JSONExtractString(properties, 'category'), JSONExtractFloat(properties, 'revenue') "
                      "FROM footpath.events WHERE site_id = {s:String} ORDER BY type", {"s": server.site.id})
    assert [r[0] for r in rows] == ["alias", "group", "identify", "page", "screen", "track"]
    by_type = {r[0]: r for r in rows}
    assert by_type["track"][1] == "Order Completed" and by_type["track"][3] == "node-7"
    assert by_type["track"][7:] == ["yoga", 12.5]
    assert by_type["page"][2:5] == ["Home", "", "anon-node-7"] and by_type["page"][6] == "node"
    assert by_type["screen"][2] == "Settings"
    assert all(r[5].startswith("@segment/analytics-node") for r in rows), rows


def test_segment_node_library_with_a_wrong_key_reports_the_error(server):
    class Wrong:
        url = server.url

        class site:
            write_key = "sk_not_a_key"
    count = "SELECT count() FROM footpath.events WHERE site_id = {s:String}"
    server.flush()
    before = server.sql(count, {"s": server.site.id})
    out = _run(Wrong)
    assert out["errors"], out  # the library surfaces the 401, nothing is stored
    server.flush()
    assert server.sql(count, {"s": server.site.id}) == before
