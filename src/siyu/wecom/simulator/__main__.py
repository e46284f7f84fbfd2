"""``python -m siyu.wecom.simulator``: run the simulator, or drive a running one over HTTP.

``serve`` starts a simulator process (optionally with the scenario driver);
every other subcommand is a thin client of the ``/sim/`` control API, so a
developer can play a customer from a shell: ``scan --state 门店A``,
``chat wm… 请问这款香薰还有货吗``, ``remove-staff lisi``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

import httpx

DEFAULT_URL = "http://127.0.0.1:8100"


def _serve(args) -> int:
    from .core import Simulator
    from .scenario import ScenarioDriver
    from .server import serve

    sim = Simulator(
        args.corp_id, args.secret, args.agent_id, args.token, args.aes_key, args.callback_url,
        state_file=args.state_file, async_delivery=bool(args.scenario_rate or args.senders),
        callback_senders=args.senders or 1,
    )
    driver = None
    if args.scenario_rate:
        driver = ScenarioDriver(sim, rate=args.scenario_rate, seed=args.scenario_seed,
                                max_events=args.scenario_count, duration=args.scenario_duration)

    def ready(url: str) -> None:
        print(f"WeCom simulator for {args.corp_id} on {url} (API /cgi-bin/, control /sim/)", flush=True)

    serve(sim, args.host, args.port, quiet=args.quiet, ready=ready, scenario=driver)
    return 0


# client subcommands: (name, help, [(argument, options)], builder(args) -> (method, route, payload))
def _body(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None and v is not False}


CLIENT_COMMANDS = {
    "scan": ("a customer scans a 「联系我」 code", [
        ("--state", {}), ("--config-id", {}), ("--external-userid", {}), ("--name", {}),
        ("--half", {"action": "store_true"}),
    ], lambda a: ("POST", "scan", _body(state=a.state, config_id=a.config_id, external_userid=a.external_userid,
                                        name=a.name, half=a.half))),
    "accept": ("a member accepts a pending customer", [("userid", {}), ("external_userid", {})],
               lambda a: ("POST", "accept", _body(userid=a.userid, external_userid=a.external_userid))),
    "add-customer": ("a member adds a customer by mobile number", [("userid", {}), ("--name", {})],
                     lambda a: ("POST", "add-customer", _body(userid=a.userid, name=a.name))),
    "chat": ("a customer (or --from-staff the member) sends a message", [
        ("external_userid", {}), ("text", {}), ("--userid", {}), ("--chat-id", {}), ("--from-staff", {"action": "store_true"}),
    ], lambda a: ("POST", "chat", _body(external_userid=a.external_userid, text=a.text, userid=a.userid,
                                        chat_id=a.chat_id, from_staff=a.from_staff))),
    "delete": ("the customer deletes the member (--by customer) or the member the customer (--by staff)", [
        ("external_userid", {}), ("--userid", {"required": True}), ("--by", {"choices": ["customer", "staff"], "default": "customer"}),
    ], lambda a: ("POST", "customer-deletes-staff" if a.by == "customer" else "staff-deletes-customer",
                  _body(external_userid=a.external_userid, userid=a.userid))),
    "add-staff": ("a member joins the corp", [
        ("userid", {"nargs": "?"}), ("--name", {}), ("--department", {"type": int, "action": "append"}), ("--mobile", {}),
    ], lambda a: ("POST", "add-staff", _body(userid=a.userid, name=a.name, department=a.department, mobile=a.mobile))),
    "remove-staff": ("a member leaves the corp", [("userid", {})],
                     lambda a: ("POST", "remove-staff", _body(userid=a.userid))),
    "create-group": ("a member creates a customer group", [("owner", {}), ("--name", {}), ("--new-members", {"type": int})],
                     lambda a: ("POST", "create-group", _body(owner=a.owner, name=a.name, new_members=a.new_members))),
    "join-group": ("a WeChat user joins a group", [
        ("--chat-id", {}), ("--config-id", {}), ("--external-userid", {}), ("--name", {}),
        ("--via", {"choices": ["qr", "invite"], "default": "qr"}),
    ], lambda a: ("POST", "join-group", _body(chat_id=a.chat_id, config_id=a.config_id, external_userid=a.external_userid,
                                              name=a.name, via=a.via))),
    "leave-group": ("a member leaves (or --kicked is removed from) a group", [
        ("chat_id", {}), ("userid", {}), ("--kicked", {"action": "store_true"}),
    ], lambda a: ("POST", "leave-group", _body(chat_id=a.chat_id, userid=a.userid, kicked=a.kicked))),
    "rename-group": ("rename a group", [("chat_id", {}), ("name", {})],
                     lambda a: ("POST", "rename-group", _body(chat_id=a.chat_id, name=a.name))),
    "dismiss-group": ("dismiss a group", [("chat_id", {})],
                      lambda a: ("POST", "dismiss-group", _body(chat_id=a.chat_id))),
    "refuse-transfer": ("the customer refuses a pending transfer", [("external_userid", {})],
                        lambda a: ("POST", "refuse-transfer", _body(external_userid=a.external_userid))),
    "confirm-groupmsg": ("a member sends a 企业群发 task", [("msgid", {}), ("userid", {})],
                         lambda a: ("POST", "confirm-groupmsg", _body(msgid=a.msgid, userid=a.userid))),
    "advance": ("move the simulator clock", [("seconds", {"type": float})],
                lambda a: ("POST", "advance", {"seconds": a.seconds})),
    "fail-next": ("make the next calls to an API fail", [
        ("path", {}), ("errcode", {"type": int}), ("--times", {"type": int, "default": 1}),
    ], lambda a: ("POST", "fail-next", {"path": a.path, "errcode": a.errcode, "times": a.times})),
    "expire-tokens": ("invalidate every access token", [], lambda a: ("POST", "expire-tokens", {})),
    "redeliver-all": ("send every callback again", [], lambda a: ("POST", "redeliver-all", {})),
    "call": ("any control action with a JSON object of arguments", [("action", {}), ("json", {"nargs": "?", "default": "{}"})],
             lambda a: ("POST", a.action, json.loads(a.json))),
    **{view: (f"GET /sim/{view}", [], (lambda v: lambda a: ("GET", v, {}))(view))
       for view in ("state", "staff", "customers", "groups", "messages", "welcome", "group-welcomes", "moments", "deliveries")},
}


def _client(args) -> int:
    method, route, payload = args.build(args)
    url = f"{args.url.rstrip('/')}/sim/{route}"
    try:
        response = httpx.request(method, url, json=payload if method == "POST" else None, timeout=30)
    except httpx.HTTPError as exc:
        print(f"cannot reach the simulator at {args.url}: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(response.json(), ensure_ascii=False, indent=2))
    return 0 if response.status_code == 200 else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m siyu.wecom.simulator", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run a simulator")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8100)
    serve.add_argument("--corp-id", required=True)
    serve.add_argument("--secret", required=True, help="the app secret Siyu uses for gettoken")
    serve.add_argument("--agent-id", required=True, type=int)
    serve.add_argument("--token", required=True, help="callback Token")
    serve.add_argument("--aes-key", required=True, help="callback EncodingAESKey (43 chars)")
    serve.add_argument("--callback-url", help="Siyu's callback URL; without it callbacks are recorded, not sent")
    serve.add_argument("--state-file", help="JSON file that keeps the corp across restarts")
    serve.add_argument("--scenario-rate", type=float, default=0, help="actions per second of the scenario driver")
    serve.add_argument("--scenario-seed", type=int, default=0)
    serve.add_argument("--scenario-count", type=int, help="stop the scenario after this many actions")
    serve.add_argument("--scenario-duration", type=float, help="stop the scenario after this many seconds")
    serve.add_argument("--quiet", action="store_true", help="no request log")
    serve.add_argument("--senders", type=int, default=0,
                       help="deliver callbacks in the background through this many threads, as WeCom delivers them "
                            "apart from the action that caused them (default: inside the control call)")
    serve.set_defaults(run=_serve)

    for name, (help_text, arguments, build) in CLIENT_COMMANDS.items():
        command = sub.add_parser(name, help=help_text)
        command.add_argument("--url", default=os.environ.get("SIYU_SIMULATOR_URL", DEFAULT_URL),
                             help=f"simulator base URL (env SIYU_SIMULATOR_URL, default {DEFAULT_URL})")
        for flag, options in arguments:
            command.add_argument(flag, **options)
        command.set_defaults(run=_client, build=build)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
