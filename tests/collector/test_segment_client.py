"""The real segment-analytics-python client, unchanged, pointed at the collector."""

from segment.analytics import Client


def test_segment_python_library_round_trip(server):
    errors = []
    client = Client(write_key=server.site.write_key, host=server.url, sync_mode=True,
                    on_error=lambda e, batch: errors.append(e))
    client.identify("user-42", {"email": "u42@example.com", "plan": "pro"}, anonymous_id="anon-42")
    client.track("user-42", "Order Completed", {"revenue": 99.5, "category": "yoga"})
    client.page("user-42", category="Docs", name="Install", properties={"url": "https://shop.example/docs?utm_source=gh"})
    client.group("user-42", "acme-inc", {"name": "Acme"})
    client.alias("anon-42", "user-42")
    client.screen("user-42", name="Home")
    client.flush()
    assert errors == []
    server.flush()
    rows = server.sql("SELECT type, event, user_id, anonymous_id, library, utm_source, "
                      "JSONExtractFloat(properties, 'revenue') FROM footpath.events "
                      "WHERE site_id = {s:String} ORDER BY type", {"s": server.site.id})
    assert [r[0] for r in rows] == ["alias", "group", "identify", "page", "screen", "track"]
    track = next(r for r in rows if r[0] == "track")
    assert track[1:3] == ["Order Completed", "user-42"]
    assert track[4].startswith("analytics-python")
    assert track[6] == 99.5
    page = next(r for r in rows if r[0] == "page")
    assert page[5] == "gh"
