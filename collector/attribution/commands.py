"""`footpath report attribution`: POST /v1/reports/attribution of the running collector.

    footpath report attribution --site shop --conversion "track:Order Completed" \\
        --value-property revenue --from 2024-05-01 --to 2024-05-31 [--models linear,markov] [--json]

The conversion step is written as in `report fallout` (TYPE:VALUE or a JSON object).  Prints
conversions per channel and model, then the top paths; --json prints the raw answer."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import orjson

from collector.attribution.channels import CHANNEL_KINDS
from collector.attribution.request import CONTAINERS, MODELS
from collector.reports.commands import read_body

Api = Callable[[argparse.Namespace, str, str, Any], tuple[int, Any]]
SHORT = {"first_touch": "first", "last_touch": "last", "last_non_direct": "last n-d", "linear": "linear",
         "position_based": "position", "time_decay": "decay", "markov": "markov", "shapley": "shapley",
         "shapley_rate": "shap-rate"}


def _report_subparsers(sub: Any) -> Any:
    """The `report` command's sub-commands (collector/reports/commands.py makes `report`)."""
    report = sub.choices.get("report") or sub.add_parser("report", help="reports through the running collector")
    for action in report._actions:  # argparse keeps sub-command groups as a private action type
        if isinstance(action, argparse._SubParsersAction):
            return action
    return report.add_subparsers(dest="report", required=True)


def body_from_args(args: argparse.Namespace) -> dict[str, Any]:
    body = read_body(args.body)
    if args.conversion:
        body["conversion"] = args.conversion
    if args.models:
        body["models"] = [m.strip() for m in args.models.split(",") if m.strip()]
    for key in ("site", "value_property", "channel", "lookback_days", "container", "half_life_days",
                "markov_order", "from", "to", "top_paths"):
        v = getattr(args, "from_" if key == "from" else key, None)
        if v is not None:
            body[key] = v
    return body


def render(doc: dict[str, Any], top: int = 10) -> str:
    models = list(doc["models"])
    first = doc["models"][models[0]] if models else {}
    order = sorted(first, key=lambda ch: -first[ch]["conversions"]) if first else doc.get("channels", [])
    lines = [f"{doc['conversions']} conversions, value {doc['value']:g}, {doc['nulls']} non-converting paths",
             "", f"{'channel':<22}" + "".join(f"{SHORT.get(m, m)[:10]:>11}" for m in models)]
    for ch in order:
        lines.append(f"{ch[:22]:<22}" + "".join(f"{doc['models'][m].get(ch, {}).get('conversions', 0):>11.2f}"
                                              for m in models))
    if doc.get("paths"):
        lines += ["", f"top paths (of {doc.get('paths_total', len(doc['paths']))}):"]
        for p in doc["paths"][:top]:
            lines.append(f"  {p['conversions']:>8} conv {p['nulls']:>8} null  " + " > ".join(p["path"]))
    for note in doc.get("notes", []):
        lines.append(f"note: {note}")
    return "\n".join(lines)


def add_commands(sub: Any, api: Api) -> None:
    from collector.reports.commands import failed, parse_step

    a = _report_subparsers(sub).add_parser(
        "attribution", help="conversions credited to channels: rule-based, Markov and Shapley models")
    a.add_argument("--site", help="site id")
    a.add_argument("--conversion", type=parse_step,
                   help="conversion step: track:Order Completed, page:/thanks*, or JSON")
    a.add_argument("--value-property", help="property holding each conversion's value (e.g. revenue)")
    a.add_argument("--channel", choices=CHANNEL_KINDS)
    a.add_argument("--lookback-days", type=int)
    a.add_argument("--container", choices=CONTAINERS)
    a.add_argument("--models", help=f"comma-separated subset of: {', '.join(MODELS)} (default: all)")
    a.add_argument("--half-life-days", type=float)
    a.add_argument("--markov-order", type=int)
    a.add_argument("--from", dest="from_", metavar="FROM", help="UTC date or datetime, inclusive")
    a.add_argument("--to", help="UTC date (that whole day) or datetime, exclusive")
    a.add_argument("--top-paths", type=int, help="paths in the answer (default 100)")
    a.add_argument("--body", help="JSON request body file (- for stdin); options override its fields")
    a.add_argument("--json", action="store_true", help="print the raw JSON answer")

    def run(args: argparse.Namespace) -> int:
        status, doc = api(args, "POST", "/v1/reports/attribution", body_from_args(args))
        if status != 200:
            return failed(status, doc, a)
        print(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() if args.json else render(doc))
        return 0

    a.set_defaults(func=run)
