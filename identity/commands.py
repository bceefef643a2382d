"""`footpath person SITE ID` and `footpath erase SITE ID [--yes]`: they call the running
collector's admin API (GET / DELETE /v1/persons/{site}/{id}); the embedded engine
belongs to that process.  Registered by collector/cli.py with its `_api` helper."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import orjson

Api = Callable[[argparse.Namespace, str, str, Any], tuple[int, Any]]


def _path(args: argparse.Namespace) -> str:
    return f"/v1/persons/{quote(args.site, safe='')}/{quote(args.id, safe='')}"


def _failed(status: int, doc: Any) -> int:
    msg = doc.get("error") if isinstance(doc, dict) else doc
    print(f"footpath: HTTP {status}: {msg}", file=sys.stderr)
    if isinstance(doc, dict) and doc.get("persons"):
        print("  persons: " + ", ".join(doc["persons"]), file=sys.stderr)
    return 1


def _print_person(doc: dict[str, Any]) -> None:
    ev = doc["events"]
    print(f"person      {doc['person_id']}  ({doc['kind']}, site {doc['site']})")
    print(f"user ids    {', '.join(doc['user_ids']) or '-'}")
    print(f"anonymous   {', '.join(doc['anonymous_ids']) or '-'}")
    if doc.get("shared_anonymous_ids"):
        print(f"shared      {', '.join(doc['shared_anonymous_ids'])} (also linked to other persons)")
    print(f"seen        {doc['first_seen'] or '-'} .. {doc['last_seen'] or '-'}")
    by_type = ", ".join(f"{k} {v}" for k, v in ev["by_type"].items())
    print(f"events      {ev['total']}" + (f" ({by_type})" if by_type else "") + f", {doc['sessions']} sessions")
    for t in ev["top"][:10]:
        print(f"            {t['count']:>7}  {t['event']}")
    if doc["traits"]:
        print("traits      " + orjson.dumps(doc["traits"]).decode())


def _print_erasure(doc: dict[str, Any]) -> None:
    d = doc["deleted"]
    verb = "would delete" if doc["dry_run"] else "deleted"
    print(f"person      {doc['person_id']}  ({len(doc['user_ids'])} user ids, {len(doc['anonymous_ids'])} anonymous ids)")
    print(f"{verb:<11} {d['events']} events, {d['links']} links, {d['merges']} merges"
          + "".join(f", {n} rows of {t}" for t, n in d["other"].items()))
    for t, n in doc.get("examples_blanked", {}).items():
        print(f"{'blank' if doc['dry_run'] else 'blanked':<11} {n} example(s) in {t} taken from the person's messages")
    for f in doc.get("not_erased", []):
        print(f"NOT erased  {f['table']}: {f['reason']}")
    if doc.get("erasure_id"):
        print(f"audit       footpath.erasure_audit erasure_id = {doc['erasure_id']}")


def cmd_person(args: argparse.Namespace, api: Api) -> int:
    status, doc = api(args, "GET", _path(args), None)
    if status != 200:
        return _failed(status, doc)
    if args.json:
        print(orjson.dumps(doc).decode())
    else:
        _print_person(doc)
    return 0


def cmd_erase(args: argparse.Namespace, api: Api) -> int:
    status, doc = api(args, "DELETE", _path(args) + ("" if args.yes else "?dry_run=1"), None)
    if status != 200:
        return _failed(status, doc)
    if args.json:
        print(orjson.dumps(doc).decode())
    else:
        _print_erasure(doc)
    if not args.yes:
        print("dry run: nothing erased; pass --yes to erase", file=sys.stderr)
        return 1
    return 0


def add_commands(sub: Any, api: Api) -> None:
    """Add `person` and `erase` to the `footpath` subcommands."""
    p = sub.add_parser("person", help="show a person: ids, traits, first/last seen, event counts")
    p.add_argument("site")
    p.add_argument("id", help="u:<user id>, a:<anonymous id>, or a bare id (user id first)")
    p.add_argument("--json", action="store_true", help="print the raw JSON answer")
    p.set_defaults(func=lambda a: cmd_person(a, api))
    e = sub.add_parser("erase", help="right to erasure: delete a person's events and identity links")
    e.add_argument("site")
    e.add_argument("id", help="u:<user id>, a:<anonymous id>, or a bare id (user id first)")
    e.add_argument("--yes", action="store_true", help="really erase (without it: a dry run that only counts)")
    e.add_argument("--json", action="store_true", help="print the raw JSON answer")
    e.set_defaults(func=lambda a: cmd_erase(a, api))
