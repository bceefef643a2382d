"""Channel of a visit: the default grouping (SQL function footpath_default_channel,
clickhouse/0040_default_channel.sql), a site's own rules before it, or a utm dimension.

Site rules (config file, ``channel_rules`` in a ``[[site]]`` table), first match wins:

    channel_rules = [
      {channel = "Partners", utm_source = ["acme*", "globex"]},
      {channel = "Paid Search", utm_medium = "adwords"},
      {channel = "Reviews", referrer_host = "*.trustpilot.com"},
    ]

Each condition is a glob or a list of globs (any of), compared case-insensitively; all
conditions of a rule must hold.  Fields: utm_source, utm_medium, utm_campaign, utm_term,
utm_content, referrer_host, referrer_class, click_id_type.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from collector.attribution.steps import glob_to_like

# Visit fields the report reads from a visit's first page view, as named in its SQL.
VISIT_FIELDS = {
    "utm_source": "t_src", "utm_medium": "t_med", "utm_campaign": "t_camp", "utm_term": "t_term",
    "utm_content": "t_content", "referrer_host": "t_ref_host", "referrer_class": "t_ref_class",
    "click_id_type": "t_cid",
}
DEFAULT_CHANNELS = ("Direct", "Organic Search", "Paid Search", "Organic Social", "Paid Social", "Email",
                    "Referral", "Affiliates", "Display", "Other")
DIRECT = "Direct"
CHANNEL_KINDS = ("default", "utm_source", "utm_campaign")
MAX_RULES = 200


@dataclass(frozen=True)
class ChannelRule:
    channel: str
    conditions: tuple[tuple[str, tuple[str, ...]], ...]  # (field, globs)


def parse_channel_rules(raw: Any) -> tuple[ChannelRule, ...]:
    """Validate the ``channel_rules`` value of a site; ValueError names the rule and key."""
    if not isinstance(raw, list) or len(raw) > MAX_RULES:
        raise ValueError(f"must be a list of at most {MAX_RULES} tables like "
                         "{channel = \"Partners\", utm_source = \"acme*\"}")
    rules = []
    for i, r in enumerate(raw):
        where = f"rule {i + 1}"
        if not isinstance(r, dict):
            raise ValueError(f"{where}: must be a table")
        ch = r.get("channel")
        if not isinstance(ch, str) or not ch.strip() or len(ch) > 100:
            raise ValueError(f"{where}: 'channel' must be a non-empty string (at most 100 characters)")
        conds = []
        for key, value in r.items():
            if key == "channel":
                continue
            if key not in VISIT_FIELDS:
                raise ValueError(f"{where}: unknown key {key!r} (use {', '.join(VISIT_FIELDS)})")
            globs = value if isinstance(value, list) else [value]
            if not globs or not all(isinstance(g, str) and 0 < len(g) <= 200 for g in globs):
                raise ValueError(f"{where}: {key!r} must be a glob or a list of globs (1-200 characters each)")
            conds.append((key, tuple(g.lower() for g in globs)))
        if not conds:
            raise ValueError(f"{where}: needs at least one condition besides 'channel'")
        rules.append(ChannelRule(ch.strip(), tuple(conds)))
    return tuple(rules)


def needed_fields(kind: str, rules: tuple[ChannelRule, ...]) -> set[str]:
    """The visit fields the channel expression of `kind` (and the rules) reads."""
    fields = {"utm_source", "utm_medium", "click_id_type", "referrer_class"}
    if kind == "utm_source":
        fields.add("referrer_host")
    elif kind == "utm_campaign":
        fields.add("utm_campaign")
    elif kind == "default":
        fields.update(field for rule in rules for field, _ in rule.conditions)
    return fields


def default_channel_sql() -> str:
    f = VISIT_FIELDS
    return (f"footpath_default_channel({f['utm_source']}, {f['utm_medium']}, {f['click_id_type']}, "
            f"{f['referrer_class']})")


def channel_sql(kind: str, rules: tuple[ChannelRule, ...]) -> tuple[str, dict[str, Any]]:
    """SQL expression (over the VISIT_FIELDS columns) giving a visit's channel label."""
    default = default_channel_sql()
    f = VISIT_FIELDS
    if kind == "utm_source":
        return (f"if({default} = 'Direct', 'Direct', if({f['utm_source']} != '', {f['utm_source']}, "
                f"if({f['referrer_host']} != '', {f['referrer_host']}, '(not set)')))"), {}
    if kind == "utm_campaign":
        return (f"if({default} = 'Direct', 'Direct', if({f['utm_campaign']} != '', {f['utm_campaign']}, "
                "'(not set)'))"), {}
    if not rules:
        return default, {}
    params: dict[str, Any] = {}
    branches = []
    for i, rule in enumerate(rules):
        ands = []
        for j, (field, globs) in enumerate(rule.conditions):
            ors = []
            for k, g in enumerate(globs):
                name = f"cr{i}_{j}_{k}"
                params[name] = glob_to_like(g)
                ors.append(f"lower({f[field]}) LIKE {{{name}:String}}")
            ands.append("(" + " OR ".join(ors) + ")")
        params[f"cr{i}"] = rule.channel
        branches.append(f"{' AND '.join(ands)}, {{cr{i}:String}}")
    return "multiIf(" + ", ".join(branches) + f", {default})", params
