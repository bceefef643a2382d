import ipaddress

from collector.enrich.clientip import anonymize, client_ip

PROXIES = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("::1/128"))


def test_socket_peer_without_trusted_proxies():
    assert client_ip("203.0.113.9", "1.2.3.4", ()) == "203.0.113.9"


def test_forwarded_for_ignored_from_untrusted_peer():
    assert client_ip("203.0.113.9", "1.2.3.4", PROXIES) == "203.0.113.9"


def test_forwarded_for_walks_past_trusted_hops():
    assert client_ip("10.0.0.2", "198.51.100.7, 10.0.0.5", PROXIES) == "198.51.100.7"
    # a spoofed left-most entry does not win over the last untrusted hop
    assert client_ip("10.0.0.2", "6.6.6.6, 198.51.100.7, 10.0.0.5", PROXIES) == "198.51.100.7"


def test_forwarded_garbage_falls_back_to_peer():
    assert client_ip("10.0.0.2", "bogus\r\nX-Evil: 1", PROXIES) == "10.0.0.2"


def test_anonymize_ipv4_24_and_ipv6_48():
    assert anonymize("81.2.69.142") == "81.2.69.0"
    assert anonymize("2001:db8:1234:5678::1") == "2001:db8:1234::"
    assert anonymize("::ffff:81.2.69.142") == "81.2.69.0"
    assert anonymize("nope") == ""
