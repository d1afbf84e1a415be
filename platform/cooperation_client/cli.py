"""`cooperation-client`: the terminal front of cooperation_client.client.Client.

Every failure the user can act on ends with a one-line message on stderr and exit status 1
(2 for bad usage); no traceback. Secrets never reach the terminal, except the Recovery Key,
shown once by `enrol` as the protocol requires.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx

from cooperation_client.client import HANDLING, TOPICS, Client, ClientError, MessageItem
from cooperation_client.client.conversation import UNKNOWN_HEAD, printable
from cooperation_client.client.oauth import DeviceCode
from cooperation_client.protocol.errors import ProtocolError

PROG = "cooperation-client"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="End-to-end encrypted threads of the Secure Platform "
                                     "on Cooperation, from the command line.")
    parser.add_argument("--home", help="keystore directory (default: ~/.config/cooperation-client/<host>; "
                        "env COOPERATION_CLIENT_HOME)")
    parser.add_argument("--server", help="server address, when several are configured")
    parser.add_argument("--ca-bundle", help="PEM file of CA certificates to trust instead of the system's")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def cmd(name: str, text: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=text, description=text)

    cmd("login", "sign in through the browser (OAuth device flow)").add_argument("server_url", metavar="SERVER")
    cmd("logout", "end this install's sign-in (keys stay)")
    for name, text in (("enrol", "create your encryption keys (first device) and show your Recovery Key"),
                       ("recover", "set this install up from your Recovery Key")):
        cmd(name, text).add_argument("--label", help="name of this device, as others see it")
    cmd("whoami", "who is signed in, and this install's keys")
    cmd("threads", "your threads, with titles and unread counts")
    create = cmd("create", "create a thread")
    create.add_argument("--title", required=True)
    create.add_argument("--topic", required=True, choices=TOPICS)
    create.add_argument("--party", action="append", required=True, metavar="CODE",
                        help="a participating State or organisation (repeat for several), e.g. SEN")
    create.add_argument("--court-ref", help="the Court's case reference")
    read = cmd("read", "show the latest messages of a thread")
    read.add_argument("thread", metavar="THREAD")
    read.add_argument("--limit", type=int, default=50)
    post = cmd("post", "send a message")
    post.add_argument("thread", metavar="THREAD")
    post.add_argument("--text", required=True, help="the message ('-' reads it from standard input)")
    post.add_argument("--handling", required=True, choices=HANDLING)
    post.add_argument("--attach", action="append", default=[], metavar="FILE")
    post.add_argument("--reply-to", metavar="MSG_ID", help="the id of the message this one answers (shown by read)")
    download = cmd("download", "download and decrypt an attachment")
    download.add_argument("thread", metavar="THREAD")
    download.add_argument("attachment", metavar="ATTACHMENT_ID")
    download.add_argument("--out", required=True, type=Path, help="file to write, or an existing folder")
    cmd("members", "the thread's members, their key fingerprints and the thread safety code").add_argument(
        "thread", metavar="THREAD")
    for name, text in (("add-state", "add a State (all its users with keys) to a thread"),
                       ("remove-state", "remove a State and its users from a thread")):
        change = cmd(name, text)
        change.add_argument("thread", metavar="THREAD")
        change.add_argument("party", metavar="CODE")
    for name, text in (("add-user", "add a user of a participating party"), ("remove-user", "remove a user")):
        change = cmd(name, text)
        change.add_argument("thread", metavar="THREAD")
        change.add_argument("user", metavar="USER", type=int)
    cmd("rotate", "give the thread a new key").add_argument("thread", metavar="THREAD")
    cmd("safety-number", "the number to compare with another user").add_argument("user", metavar="USER", type=int)
    cmd("trust", "accept a user's changed identity key after comparing the safety number").add_argument(
        "user", metavar="USER", type=int)
    cmd("devices", "your browsers and installs, with their device ids")
    cmd("revoke-device", "revoke a lost or unused browser or install: it cannot read anything sent afterwards"
        ).add_argument("device", metavar="DEVICE_ID")
    cmd("update-recovery", "enter your Recovery Key once so that this install keeps your key backup up to date")
    cmd("approvals", "your new browsers or installs waiting for approval, with their verification codes")
    cmd("approve-device", "give your keys to a waiting browser or install, after typing the code it shows"
        ).add_argument("request", metavar="REQUEST_ID")
    cmd("refuse-device", "refuse a browser or install waiting for approval").add_argument("request",
                                                                                          metavar="REQUEST_ID")
    return parser


def _announce(code: DeviceCode) -> None:
    print(f"To sign in, open {code.verification_uri} in a browser where you are signed in to the platform,")
    print(f"and enter the code:  {code.user_code}")
    if code.verification_uri_complete:
        print(f"(or open {code.verification_uri_complete})")
    print("Waiting for approval...", flush=True)


def _read_code() -> str:
    if sys.stdin.isatty():
        return input("Verification code shown on the new device: ")
    return sys.stdin.readline()


def _read_recovery_key() -> str:
    if sys.stdin.isatty():
        return getpass.getpass("Recovery Key: ")
    return sys.stdin.readline()


def _show_message(item: MessageItem, shown: dict[str, MessageItem]) -> None:
    """One message; `shown`: the verified messages listed before it, by msg_id, against which a
    reply's reference is checked (PROTOCOL.md §12), never trusted as such."""
    when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(item.sent_ms / 1000)) if item.sent_ms else "?"
    head = f"[{item.id}] {when} UTC  {printable(item.sender_name)} (user {item.sender_id})"
    if item.warning:
        print(f"{head}\n  WARNING: {item.warning}")
        return
    print(f"{head}  <{item.handling or 'no handling code'}>  message {item.msg_id}")
    if item.unknown_head:  # signed and decrypted, but its sender saw a history not given to us
        print(f"  WARNING: {UNKNOWN_HEAD}")
    if item.reply_to:
        original = shown.get(item.reply_to)
        if original is not None:
            print(f"  in reply to [{original.id}] {printable(original.sender_name)}, message {item.reply_to}")
        else:
            print(f"  in reply to message {item.reply_to} (not available)")
    for line in printable(item.text or "").splitlines() or [""]:
        print(f"  {line}")
    for ref in item.attachments:
        print(f"  attachment {ref.file_id}  {printable(ref.name)}  ({printable(ref.mime)}, {ref.size} bytes)")


def _run(args: argparse.Namespace, transport: httpx.BaseTransport | None, sleep: Callable[[float], None]) -> int:
    server = args.server_url if args.command == "login" else args.server
    with Client.open(home=args.home, server=server, transport=transport, ca_bundle=args.ca_bundle) as client:
        command = args.command
        if command == "login":
            me = client.login(_announce, sleep=sleep)
            print(f"Signed in as user {me['id']} ({me.get('party')}, {me.get('role_label') or me.get('role')}).")
            if client.store.keys() is None:
                print(f"Next: {PROG} enrol (first device) or {PROG} recover (new install).")
        elif command == "logout":
            client.logout()
            print("Signed out. The keys on this install are kept.")
        elif command == "enrol":
            key = client.enrol(args.label)
            print("Your keys are set up. Your Recovery Key (shown only this once):\n")
            print(f"    {key}\n")
            print("Write it down and keep it somewhere safe, away from this computer. If you lose it and all "
                  "your devices, everything sent to you so far is lost for good: nobody, not even the "
                  "platform's administrators, can recover it.")
        elif command == "recover":
            client.recover(_read_recovery_key(), args.label)
            print("This install is set up; your other devices were given the new key generation.")
        elif command == "whoami":
            _whoami(client.whoami())
        elif command == "threads":
            for t in client.threads():
                unread = f"{t.unread}{'+' if t.unread_capped else ''} unread"
                title = printable(t.title) if t.title is not None else f"(WARNING: {t.warning})"
                extra = f"  [{t.topic}]" if t.topic else ""
                ref = f"  ({printable(t.court_ref)})" if t.court_ref else ""
                print(f"{t.thread_id}  {unread:>11}{extra}  {title}{ref}")
        elif command == "create":
            thread_id = client.create_thread(title=args.title, topic=args.topic, parties=args.party,
                                             court_ref=args.court_ref)
            print(thread_id)
            if client.last_skipped:
                print(f"Not included (identity key changed, or invalid keys): {', '.join(client.last_skipped)}",
                      file=sys.stderr)
        elif command == "read":
            if not 1 <= args.limit <= 200:
                raise ClientError("--limit must be between 1 and 200.")
            for user_id in client.key_changes(client.thread(args.thread)):
                print(f"WARNING: the identity key of user {user_id} has changed; nothing can be sent here until you "
                      f"compare the safety number ({PROG} safety-number {user_id}) and run {PROG} trust {user_id}.")
            shown: dict[str, MessageItem] = {}
            for item in client.messages(args.thread, args.limit, mark_read=True):
                _show_message(item, shown)
                if item.ok:
                    shown.setdefault(item.msg_id, item)
        elif command == "post":
            text = sys.stdin.read() if args.text == "-" else args.text
            print(client.post(args.thread, text, handling=args.handling, attachments=[Path(p) for p in args.attach],
                              reply_to=args.reply_to))
        elif command == "download":
            print(client.download(args.thread, args.attachment, args.out))
        elif command == "members":
            members, code = client.members(args.thread)
            for m in members:
                flag = "" if m.pinned else "  (KEY NOT VERIFIED)"
                print(f"{m.user_id:>6}  {m.state:<8}  {printable(m.name)}  {m.fingerprint}{flag}")
            print(f"thread safety code: {code}")
        elif command in ("add-state", "remove-state"):
            change = client.add_state if command == "add-state" else client.remove_state
            view = change(args.thread, args.party)
            print(f"Done; the thread is at epoch {view.state.epoch}.")
        elif command in ("add-user", "remove-user"):
            by_id = client.add_user if command == "add-user" else client.remove_user
            view = by_id(args.thread, args.user)
            print(f"Done; the thread is at epoch {view.state.epoch}.")
        elif command == "rotate":
            print(f"Done; the thread is at epoch {client.rotate(args.thread).state.epoch}.")
        elif command == "safety-number":
            number, pinned = client.safety_number(args.user)
            print(number)
            if not pinned:
                print(f"WARNING: this key differs from the one first seen for user {args.user}. Compare the "
                      f"number with them in person or by phone, then run: {PROG} trust {args.user}")
        elif command == "trust":
            changed = client.trust(args.user)
            print("Key accepted." if changed else "This key was already trusted.")
        elif command == "devices":
            for d in client.devices():
                state = f"revoked {d['revoked_at']}" if d["revoked_at"] else "active"
                notes = ("  (this install)" if d["this"] else "") + ("" if d["certified"] else "  (NOT CERTIFIED)")
                print(f"{d['device_id']}  {state:<8}  added {d['created_at']}  {printable(d['label'])}{notes}")
        elif command == "revoke-device":
            if client.revoke_device(args.device):
                print("Revoked; your keys were renewed for your other devices and your Recovery Key backup.")
            else:
                print("Revoked; your keys were renewed for your other devices.")
                print(f"WARNING: this install could not update your Recovery Key backup, which now lacks your newest "
                      f"keys. Run {PROG} update-recovery (it asks for your Recovery Key once).", file=sys.stderr)
        elif command == "update-recovery":
            client.update_recovery(_read_recovery_key())
            print("Your Recovery Key backup is up to date; this install now keeps it so.")
        elif command == "approvals":
            waiting = client.approval_requests()
            for r in waiting:
                state = "approved, finishing" if r["status"] == "approved" else "waiting"
                print(f"{r['request_id']}  {state:<19}  code {r['code']}  {printable(r['label'])}")
            if not waiting:
                print("No browser or install of yours is waiting for approval.")
        elif command == "approve-device":
            print("Approving gives that device access to all your secure threads. Approve only a device you are "
                  "setting up yourself, now, and only if it shows the code you type.", file=sys.stderr)
            request = client.approve_device(args.request, _read_code())
            print(f"Approved {printable(request['label'])}; it finishes setting itself up.")
        elif command == "refuse-device":
            client.refuse_device(args.request)
            print("Refused; that device gets none of your keys.")
    return 0


def _whoami(info: dict[str, Any]) -> None:
    print(f"user {info['id']}  {info.get('party')}  {info.get('role_label') or info.get('role')}")
    print(f"server   {info['server']}\nkeystore {info['keystore']}")
    if info.get("enrolled"):
        print(f"device   {info['device_id']}  (key generation {info['key_generation']})")
        print(f"identity {info['fingerprint']}")
    else:
        print(f"no keys on this install: run {PROG} enrol or {PROG} recover")


def main(argv: Sequence[str] | None = None, *, transport: httpx.BaseTransport | None = None,
         sleep: Callable[[float], None] = time.sleep) -> int:
    """Entry point of the console script. `transport` and `sleep` let an embedding program (or
    a test) run the client against an in-process server without waiting in real time."""
    logging.getLogger("httpx").setLevel(logging.WARNING)  # request lines are nobody's business
    args = _parser().parse_args(argv)
    try:
        return _run(args, transport, sleep)
    except ClientError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
    except ProtocolError as exc:
        print(f"{PROG}: error: a protocol check failed: {exc}", file=sys.stderr)
    except OSError as exc:
        print(f"{PROG}: error: {exc.strerror or exc}{f': {exc.filename}' if exc.filename else ''}", file=sys.stderr)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
