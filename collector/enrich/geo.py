"""GeoIP from MaxMind databases (maxminddb, memory-mapped).  No database configured means
empty geo fields, never an error.  Lookups use the full IP; storage sees it anonymised."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import maxminddb


@dataclass(frozen=True, slots=True)
class GeoInfo:
    country_code: str = ""
    region: str = ""
    city: str = ""
    asn: int = 0
    as_org: str = ""


NO_GEO = GeoInfo()


def _open(path: str) -> Any:
    return maxminddb.open_database(path, maxminddb.MODE_MMAP_EXT) if path else None


class GeoIP:
    def __init__(self, city_db: str = "", asn_db: str = "", cache_size: int = 100_000):
        self._city = _open(city_db)
        self._asn = _open(asn_db)
        self.lookup = lru_cache(maxsize=cache_size)(self._lookup)
        self.columns = lru_cache(maxsize=cache_size)(self._columns)

    def _columns(self, ip: str) -> dict[str, object]:
        """The events geo columns of an IP, one cached dict (read-only, see UAClassifier.columns)."""
        g = self.lookup(ip)
        return {"country_code": g.country_code, "region": g.region, "city": g.city, "asn": g.asn, "as_org": g.as_org}

    @property
    def enabled(self) -> bool:
        return self._city is not None or self._asn is not None

    def _lookup(self, ip: str) -> GeoInfo:
        if not ip or not self.enabled:
            return NO_GEO
        country = region = city = org = ""
        asn = 0
        try:
            if self._city is not None:
                rec = self._city.get(ip) or {}
                country = (rec.get("country") or rec.get("registered_country") or {}).get("iso_code", "")
                subs = rec.get("subdivisions") or []
                if subs:
                    region = subs[0].get("iso_code") or subs[0].get("names", {}).get("en", "")
                city = (rec.get("city") or {}).get("names", {}).get("en", "")
            if self._asn is not None:
                rec = self._asn.get(ip) or {}
                asn = int(rec.get("autonomous_system_number") or 0)
                org = rec.get("autonomous_system_organization") or ""
        except (ValueError, TypeError):  # not an IP address (TypeError: an embedded NUL)
            return NO_GEO
        return GeoInfo(country, region, city, asn, org)

    def close(self) -> None:
        for db in (self._city, self._asn):
            if db is not None:
                db.close()
