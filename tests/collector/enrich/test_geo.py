"""GeoIP: every network in MaxMind's test databases resolves to what their JSON sources say."""

import ipaddress
import json

import pytest

from collector.enrich.geo import NO_GEO, GeoIP
from tests.conftest import ASN_DB, CITY_DB, GEOIP


def _city_expectations():
    out = []
    for entry in json.loads((GEOIP / "GeoLite2-City-Test.json").read_text()):
        for net, rec in entry.items():
            n = ipaddress.ip_network(net)
            country = (rec.get("country") or rec.get("registered_country") or {}).get("iso_code", "")
            city = (rec.get("city") or {}).get("names", {}).get("en", "")
            subs = rec.get("subdivisions") or []
            region = subs[0].get("iso_code", "") if subs else ""
            out.append((str(n.network_address), country, region, city))
    return out


def test_london_example_from_the_issue():
    g = GeoIP(str(CITY_DB), str(ASN_DB))
    info = g.lookup("81.2.69.142")
    assert (info.country_code, info.city) == ("GB", "London")


@pytest.mark.parametrize("ip,country,region,city", _city_expectations())
def test_city_database_matches_its_source(ip, country, region, city):
    info = GeoIP(str(CITY_DB)).lookup(ip)
    assert (info.country_code, info.region, info.city) == (country, region, city)


def test_asn_database_matches_its_source():
    g = GeoIP(asn_db=str(ASN_DB))
    entries = json.loads((GEOIP / "GeoLite2-ASN-Test.json").read_text())
    assert len(entries) > 10
    for entry in entries:
        for net, rec in entry.items():
            ip = str(ipaddress.ip_network(net).network_address)
            info = g.lookup(ip)
            assert info.asn == rec["autonomous_system_number"], net
            assert info.as_org == rec.get("autonomous_system_organization", ""), net


def test_no_database_means_empty_fields_not_errors():
    g = GeoIP()
    assert not g.enabled
    assert g.lookup("81.2.69.142") == NO_GEO


def test_garbage_and_unknown_addresses_are_empty():
    g = GeoIP(str(CITY_DB), str(ASN_DB))
    assert g.lookup("not-an-ip") == NO_GEO
    assert g.lookup("") == NO_GEO
    assert g.lookup("10.0.0.1").country_code == ""
