"""`footpath report experiment --site S --experiment K [--from D] [--to D] [--json]`:
POST /v1/reports/experiment of the running collector, printed as a table."""

from __future__ import annotations

import argparse
from typing import Any

import orjson


def _report_subparsers(sub: Any) -> Any:
    """The `report` command's sub-commands (collector/reports/commands.py makes `report`)."""
    report = sub.choices.get("report") or sub.add_parser("report", help="reports through the running collector")
    for action in report._actions:  # argparse keeps sub-command groups as a private action type
        if isinstance(action, argparse._SubParsersAction):
            return action
    return report.add_subparsers(dest="report", required=True)


def _pct(v: float | None) -> str:
    return "" if v is None else f"{v:+.1%}"


def _fmt_ci(ci: list[float] | None, pct: bool = True) -> str:
    if not ci:
        return ""
    return f"[{_pct(ci[0])}, {_pct(ci[1])}]" if pct else f"[{ci[0]:.2%}, {ci[1]:.2%}]"


def print_result(doc: dict[str, Any]) -> None:
    print(f"experiment {doc['experiment']} ({doc['status']}, {doc['allocation']}) "
          f"{doc['from'][:10]} .. {doc['to'][:10]}   goal: {' -> '.join(doc['goal'])}")
    head = f"{'variant':<16}{'persons':>9}{'conv':>8}{'rate':>8}  {'rate 95%':<18}{'uplift':>8}  {'uplift 95%':<20}{'p':>7}{'seq p':>7}{'P(best)':>9}"
    print(head)
    for v in doc["variants"]:
        rate = "" if v["rate"] is None else f"{v['rate']:.2%}"
        p = "" if v["p_value"] is None else f"{v['p_value']:.3f}"
        sp = "" if v.get("sequential_p_value") is None else f"{v['sequential_p_value']:.3f}"
        ctb = "" if v["chance_to_beat_control"] is None else f"{v['chance_to_beat_control']:.1%}"
        print(f"{v['key']:<16}{v['persons']:>9}{v['conversions']:>8}{rate:>8}  {_fmt_ci(v['rate_ci'], False):<18}"
              f"{_pct(v['uplift']):>8}  {_fmt_ci(v['uplift_ci']):<20}{p:>7}{sp:>7}{ctb:>9}")
    for m in doc["metrics"]:
        print(f"{'guardrail' if m['guardrail'] else 'metric'} {m['name']} ({m['kind']}):")
        for v in m["variants"]:
            val = v.get("mean") if m["kind"] == "value" else v.get("rate")
            val_s = "" if val is None else f"{val:.4g}"
            p = "" if v["p_value"] is None else f"{v['p_value']:.3f}"
            print(f"  {v['key']:<14}{val_s:>10}  {_pct(v['uplift']):>8}  {_fmt_ci(v['uplift_ci']):<20}{p:>7}")
    srm = doc["srm_p_value"]
    print(f"sample ratio check: p = {srm:.4f}{'  MISMATCH' if doc['srm'] else ''}" if srm is not None else "sample ratio check: n/a")
    print(doc["verdict"])


def add_commands(sub: Any, api: Any) -> None:
    from collector.reports.commands import failed

    e = _report_subparsers(sub).add_parser("experiment", help="experiment results: rates, uplift, p-values, SRM")
    e.add_argument("--site", required=True)
    e.add_argument("--experiment", required=True)
    e.add_argument("--from", dest="from_", metavar="FROM", help="UTC date or datetime (default: the start)")
    e.add_argument("--to", help="UTC date (inclusive) or datetime (exclusive); default now")
    e.add_argument("--json", action="store_true", help="print the raw JSON answer")

    def run(args: argparse.Namespace) -> int:
        body = {"site": args.site, "experiment": args.experiment}
        if args.from_:
            body["from"] = args.from_
        if args.to:
            body["to"] = args.to
        status, doc = api(args, "POST", "/v1/reports/experiment", body)
        if status != 200:
            return failed(status, doc if isinstance(doc, dict) else {"error": doc}, e)
        if args.json:
            print(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode())
        else:
            print_result(doc)
        return 0

    e.set_defaults(func=run)
