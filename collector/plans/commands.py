"""`footpath plan check FILE` (offline), `footpath plan infer --site S --days N`,
`footpath quarantine list|replay --site S`, `footpath quality --site S` and `footpath rejected
--site S`: all but `plan check` call the running collector's admin API (the embedded engine
belongs to that process).  Registered by collector/cli.py with its `_api` helper."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import orjson
import yaml

from collector.plans.model import PlanError, describe, load_plan

Api = Callable[..., tuple[int, Any]]


def _failed(status: int, doc: Any) -> int:
    msg = doc.get("error") if isinstance(doc, dict) else doc
    print(f"footpath: HTTP {status}: {msg}", file=sys.stderr)
    return 1


def _percent(rate: float | None) -> str:
    """A rate of the quality report as the terminal shows it; '-' where there was nothing to
    rate (no event checked against a plan, no browser event)."""
    return "-" if rate is None else f"{rate:.1%}"


def _print(doc: Any) -> None:
    print(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode())


def cmd_plan_check(args: argparse.Namespace) -> int:
    try:
        plan = load_plan(args.file)
    except PlanError as e:
        print(f"footpath: plan check failed: {e}", file=sys.stderr)
        return 1
    print(f"ok: {args.file}: {describe(plan)}")
    return 0


def add_commands(sub: Any, api: Api) -> None:
    def plan_infer(args: argparse.Namespace) -> int:
        status, doc = api(args, "POST", "/v1/plans/infer",
                          {"site": args.site, "days": args.days, "max_enum": args.max_enum})
        if status != 200:
            return _failed(status, doc)
        if args.output:
            out = Path(args.output)
            try:
                if out.suffix.lower() in (".yaml", ".yml"):
                    out.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
                else:
                    out.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")
            except OSError as e:
                print(f"footpath: cannot write {out}: {e.strerror or e}", file=sys.stderr)
                return 2
            print(f"draft plan with {len(doc.get('events', {}))} event(s) written to {out}; "
                  f"check it with `footpath plan check {out}`")
        else:
            _print(doc)
        return 0

    def quarantine_replay(args: argparse.Namespace) -> int:
        status, doc = api(args, "POST", "/v1/quarantine/replay", {"site": args.site, "dry_run": args.dry_run})
        if status != 200:
            return _failed(status, doc)
        verb = "would move" if doc["dry_run"] else "moved"
        print(f"site {doc['site']}: checked {doc['checked']} quarantined message(s) against plan version "
              f"{doc['plan_version']} ({doc['mode']}): {verb} {doc['replayed']} into footpath.events, "
              f"{doc['already_present']} were there already, {doc['still_blocked']} still fail")
        if doc.get("plan_error"):
            print(f"warning: the plan file does not load, the last good version was used: {doc['plan_error']}")
        return 0

    def get_doc(args: argparse.Namespace, path: str, params: dict[str, Any]) -> tuple[int | None, Any]:
        """GET path from the collector: (None, the document) to show, or (the exit code,
        ...) when the answer was an error (reported) or --json printed it."""
        status, doc = api(args, "GET", f"{path}?{urlencode({k: v for k, v in params.items() if v is not None})}")
        if status != 200:
            return _failed(status, doc), doc
        if args.json:
            _print(doc)
            return 0, doc
        return None, doc

    def quarantine_list(args: argparse.Namespace) -> int:
        code, doc = get_doc(args, "/v1/quarantine", {"site": args.site, "limit": args.limit, "status": args.status})
        if code is not None:
            return code
        c = doc["counts"]
        print(f"site {doc['site']}: {c['quarantined']} quarantined, {c['replayed']} replayed")
        for r in doc["rows"]:
            name = r["event"] or f"({r['type']})"
            print(f"{r['received_at']}  {r['message_id']}  {name}  v{r['plan_version']}  {r['reason']}")
        return 0

    def quality(args: argparse.Namespace) -> int:
        code, doc = get_doc(args, "/v1/quality", {"site": args.site, "from": args.start, "to": args.end})
        if code is not None:
            return code
        t = doc["totals"]
        done = doc["completeness"]["estimated"]  # None: no browser events to estimate it from
        print(f"site {doc['site']} {doc['from']} .. {doc['to']}: {t['events']} events, violation rate "
              f"{_percent(t['violation_rate'])}, {t['blocked']} blocked, completeness {_percent(done)}")
        plan = doc.get("plan")  # the plan in force, and a file that does not load (QA: JSON only)
        if plan:
            print(f"plan {plan.get('path')}: version {plan.get('version')}, mode {plan.get('mode')}"
                  + (f"\n  ERROR: {plan['error']}" if plan.get("error") else ""))
        for e in doc["events"]:
            r = _percent(e["violation_rate"])
            top = "; ".join(f"{v['rule']} {v['property']} x{v['count']}" for v in e["violations"][:3])
            print(f"  {e['label']:<32} {e['events']:>8}  {r:>6}  {top}")
        for i in doc["incidents"]:
            print(f"  [{i['state']}] {i['opened_at']} {i['summary']}")
        rej = doc.get("rejected") or {"total": 0, "fields": []}
        if rej["total"]:
            print(f"rejected messages: {rej['total']} (footpath rejected --site {doc['site']} lists them)")
            for f in rej["fields"][:10]:
                print(f"  {f['field'] or '(message)':<24} {f['type'] or '-':<9} {f['count']:>8}  {f['reason']}")
        return 0

    def rejected_list(args: argparse.Namespace) -> int:
        code, doc = get_doc(args, "/v1/rejected", {"site": args.site, "limit": args.limit, "from": args.start,
                                                   "to": args.end, "field": args.field})
        if code is not None:
            return code
        for m in doc["messages"]:
            who = m["library"] or m["source"]
            print(f"{m['received_at']}  {m['field'] or '(message)'}: {m['reason']}  [{m['type'] or '-'} "
                  f"{m['event']}{' ' if m['event'] else ''}from {who}, message id {m['message_id'] or '-'}]")
            print(f"    {'(withheld: consent)' if m['redacted'] else m['message'][:300]}")
        if not doc["messages"]:
            print(f"no rejected messages for site {doc['site']} in {doc['from']} .. {doc['to']}")
        return 0

    p = sub.add_parser("plan", help="tracking plans: check a plan file, draft one from stored events")
    ps = p.add_subparsers(dest="plan_command", required=True)
    c = ps.add_parser("check", help="validate a plan file (offline) with clear errors")
    c.add_argument("file")
    c.set_defaults(func=cmd_plan_check)
    i = ps.add_parser("infer", help="draft a plan from the events of the last N days (running collector)")
    i.add_argument("--site", required=True)
    i.add_argument("--days", type=int, default=30)
    i.add_argument("--max-enum", type=int, default=10, help="most distinct values for a string to become an enum")
    i.add_argument("--output", "-o", help="write to FILE (.json, or .yaml/.yml for YAML) instead of stdout")
    i.set_defaults(func=plan_infer)
    q = sub.add_parser("quarantine", help="messages a plan in block mode kept out of footpath.events")
    qs = q.add_subparsers(dest="quarantine_command", required=True)
    r = qs.add_parser("replay", help="re-check against the plan as it is now; move what passes (exactly once)")
    r.add_argument("--site", required=True)
    r.add_argument("--dry-run", action="store_true", help="count what would move, move nothing")
    r.set_defaults(func=quarantine_replay)
    ls = qs.add_parser("list", help="counts and the latest quarantined messages with their reasons")
    ls.add_argument("--site", required=True)
    ls.add_argument("--limit", type=int, default=20)
    ls.add_argument("--status", default="quarantined", choices=("quarantined", "replayed"))
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=quarantine_list)
    qa = sub.add_parser("quality", help="the data-quality report of a site (default: the last 24 hours)")
    qa.add_argument("--site", required=True)
    qa.add_argument("--from", dest="start", help="ISO date or datetime (UTC)")
    qa.add_argument("--to", dest="end", help="ISO date or datetime (UTC)")
    qa.add_argument("--json", action="store_true")
    qa.set_defaults(func=quality)
    rj = sub.add_parser("rejected", help="messages the collector refused, with field, reason and the message "
                                         "(default: the last 24 hours, newest first)")
    rj.add_argument("--site", required=True)
    rj.add_argument("--from", dest="start", help="ISO date or datetime (UTC)")
    rj.add_argument("--to", dest="end", help="ISO date or datetime (UTC)")
    rj.add_argument("--field", help="only rejections of this field (as the response names it, e.g. context.seq)")
    rj.add_argument("--limit", type=int, default=20)
    rj.add_argument("--json", action="store_true")
    rj.set_defaults(func=rejected_list)
