"""`footpath report fallout|paths`: the report API of the running collector, from a shell.

Steps are written TYPE:VALUE -- page:/product/* (a path glob), track:Order Completed,
screen:Home -- or as a JSON object ('{"type": "track", "event": "Order Completed",
"properties": {"category": "yoga"}}').  --body FILE (or - for stdin) gives a whole request
body; the options given on the command line override its fields."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

Api = Callable[[argparse.Namespace, str, str, Any], tuple[int, Any]]


def parse_step(text: str) -> dict[str, Any]:
    text = text.strip()
    if text.startswith("{"):
        return json_object(text)
    kind, sep, value = text.partition(":")
    if not sep or kind not in ("page", "track", "screen") or not value:
        raise argparse.ArgumentTypeError("write a step as page:/path/glob, track:Event Name or screen:Name")
    return {"type": "page", "path": value} if kind == "page" else {"type": kind, "event": value}


def json_object(text: str) -> dict[str, Any]:
    """An option's JSON object (argparse type): a usage error naming the problem, not a traceback."""
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError as e:
        raise argparse.ArgumentTypeError(f"not valid JSON: {e}") from None
    if not isinstance(doc, dict):
        raise argparse.ArgumentTypeError("must be a JSON object")
    return doc


def read_body(name: str | None) -> dict[str, Any]:
    """The --body FILE (- for stdin) of a report command, or {}; exits with the reason when it
    cannot be read or is not a JSON object."""
    if not name:
        return {}
    try:
        raw = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
    except OSError as e:
        raise SystemExit(f"footpath: --body {name}: {e.strerror or e}") from None
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise SystemExit(f"footpath: --body {name} is not valid JSON: {e}") from None
    if not isinstance(body, dict):
        raise SystemExit("footpath: --body must hold a JSON object")
    return body


def _body(args: argparse.Namespace) -> dict[str, Any]:
    body = read_body(args.body)
    if getattr(args, "segment", None) is not None:
        body["segment"] = args.segment
    for key in ("site", "container", "from", "to"):
        v = getattr(args, key.replace("from", "from_"), None)
        if v is not None:
            body[key] = v
    if args.source:
        body["source"] = args.source
    if args.include_bots:
        body["include_bots"] = True
    return body


def _print_fallout(doc: dict[str, Any]) -> None:
    def table(steps: list[dict[str, Any]], indent: str = "") -> None:
        print(f"{indent}{'step':<36} {'entered':>10} {'fell out':>10} {'of first':>9} {'of prev':>8} {'median s':>9}")
        for s in steps:
            med = "" if s["median_seconds_to_next"] is None else f"{s['median_seconds_to_next']:.1f}"
            print(f"{indent}{s['label'][:36]:<36} {s['entered']:>10} {s['fell_out']:>10} "
                  f"{s['conversion_from_first'] * 100:>8.1f}% {s['conversion_from_previous'] * 100:>7.1f}% {med:>9}")

    table(doc["steps"])
    for value, sub in doc.get("breakdown", {}).items():
        print(f"\n{value}:")
        table(sub["steps"], "  ")
    print(f"\n(source: {doc.get('source')}, {doc.get('elapsed_ms')} ms)")


def _print_paths(doc: dict[str, Any]) -> None:
    by_depth: dict[int, list[dict[str, Any]]] = {}
    for n in doc["nodes"]:
        by_depth.setdefault(n["depth"], []).append(n)
    for depth in sorted(by_depth):
        print(f"depth {depth}: " + ", ".join(f"{n['label']} ({n['count']})" for n in by_depth[depth]))
    print("\nlinks:")
    for lk in doc["links"]:
        print(f"  {lk['source']} -> {lk['target']}: {lk['value']}")
    print(f"\n(source: {doc.get('source')}, {doc.get('elapsed_ms')} ms)")


def add_commands(sub: Any, api: Api) -> None:
    # `report` is shared with other report kinds (attribution, experiments): reuse it if made
    r = sub.choices.get("report") or sub.add_parser("report", help="reports through the running collector")
    rs = next((a for a in r._actions if isinstance(a, argparse._SubParsersAction)), None)
    if rs is None:
        rs = r.add_subparsers(dest="report", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--site", help="site id")
        p.add_argument("--from", dest="from_", metavar="FROM", help="UTC date or datetime, inclusive")
        p.add_argument("--to", help="UTC date or datetime, exclusive")
        p.add_argument("--container", choices=("person", "session"))
        p.add_argument("--include-bots", action="store_true")
        p.add_argument("--source", choices=("auto", "mv", "raw"), help="force the views or the raw table")
        p.add_argument("--body", help="JSON request body file (- for stdin); options override its fields")
        p.add_argument("--json", action="store_true", help="print the raw JSON answer")
        p.add_argument("--segment", type=json_object,
                       help="segment as JSON, e.g. '{\"filters\": [{\"event\": \"Order Completed\"}]}'")

    f = rs.add_parser("fallout", help="funnel: entered, fell out, conversion, time to next step")
    common(f)
    f.add_argument("--step", action="append", type=parse_step, help="a step (repeat, in order)")
    f.add_argument("--window", type=int, help="conversion window in seconds (default 30 days)")
    f.add_argument("--mode", choices=("eventual", "strict"))
    f.add_argument("--breakdown", help="dimension (country_code, device_type, utm_source, ...) or properties.<key>")

    def run_fallout(args: argparse.Namespace) -> int:
        body = _body(args)
        if args.step:
            body["steps"] = args.step
        for key, v in (("window_seconds", args.window), ("mode", args.mode), ("breakdown", args.breakdown)):
            if v is not None:
                body[key] = v
        return _call(args, api, "/v1/reports/fallout", body, _print_fallout)

    f.set_defaults(func=run_fallout, parser=f)

    p = rs.add_parser("paths", help="flows from a start step, to an end step, or from entry")
    common(p)
    p.add_argument("--start", type=parse_step, help="start step: paths run forward from its first occurrence")
    p.add_argument("--end", type=parse_step, help="end step: paths run backward from its last occurrence")
    p.add_argument("--depth", type=int)
    p.add_argument("--top", type=int, help="branches kept per node; the rest are (other)")
    p.add_argument("--collapse-repeats", action="store_true")
    p.add_argument("--include", help="comma-separated kinds: page (default), track, screen")

    def run_paths(args: argparse.Namespace) -> int:
        body = _body(args)
        for key, v in (("start", args.start), ("end", args.end), ("depth", args.depth), ("top", args.top)):
            if v is not None:
                body[key] = v
        if args.collapse_repeats:
            body["collapse_repeats"] = True
        if args.include:
            body["include"] = [k.strip() for k in args.include.split(",") if k.strip()]
        return _call(args, api, "/v1/reports/paths", body, _print_paths)

    p.set_defaults(func=run_paths, parser=p)


# request fields whose option is not --<field with dashes>
FIELD_OPTIONS = {"steps": "--step", "window_seconds": "--window", "from": "--from"}


def failed(status: int, doc: dict[str, Any], parser: argparse.ArgumentParser) -> int:
    """Prints a report request's error answer; where it names a request field that one of
    the command's options sets, names the option too (the API speaks of fields: found in
    QA, "field 'conversion': is required" with no word of --conversion)."""
    msg = f"footpath: HTTP {status}: {doc.get('error')}"
    top = re.split(r"[.\[]", str(doc.get("field") or ""), maxsplit=1)[0]
    option = FIELD_OPTIONS.get(top, "--" + top.replace("_", "-"))
    if top and option in parser._option_string_actions:  # argparse's table of the command's options
        msg += f" (set it with {option})"
    print(msg, file=sys.stderr)
    return 1


def _call(args: argparse.Namespace, api: Api, path: str, body: dict[str, Any],
          show: Callable[[dict[str, Any]], None]) -> int:
    status, doc = api(args, "POST", path, body)
    if status != 200:
        return failed(status, doc, args.parser)
    if args.json:
        print(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode())
    else:
        show(doc)
    return 0
