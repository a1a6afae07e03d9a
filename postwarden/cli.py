"""The `postwarden` command: serve, reload, status, scan, check-config."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from postwarden import __version__
from postwarden.config import ConfigError, load_config

EXIT_OK, EXIT_PROBLEM, EXIT_USAGE = 0, 1, 2


def _config_arg(parser: argparse.ArgumentParser, required: bool = False) -> None:
    parser.add_argument("-c", "--config", required=required, metavar="FILE",
                        help="postwarden.yaml (default: built-in defaults)")


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="postwarden", description=__doc__)
    parser.add_argument("--version", action="version", version=f"postwarden {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the milter daemon")
    _config_arg(serve)

    for name, text in (("reload", "make the running daemon reload its configuration"),
                       ("status", "ask the running daemon how it is")):
        cmd = sub.add_parser(name, help=text)
        _config_arg(cmd)
        cmd.add_argument("--socket", help="control socket (default: from the config)")

    check = sub.add_parser("check-config", help="validate a configuration file and exit")
    check.add_argument("config", metavar="FILE")

    scan = sub.add_parser("scan", help="decide stored messages offline with the daemon's engine")
    _config_arg(scan)
    scan.add_argument("paths", nargs="+", metavar="PATH",
                      help="message file, mbox, maildir, directory, .tar.* archive, or - for stdin")
    scan.add_argument("--json", action="store_true", help="one JSON object per message")
    scan.add_argument("--sender", help="envelope sender (default: Return-Path or From)")
    scan.add_argument("--rcpt", action="append", default=[],
                      help="envelope recipient, repeatable (default: To/Cc/Bcc)")
    scan.add_argument("--client-ip", help="SMTP client address (default: topmost Received)")
    scan.add_argument("--helo", help="HELO name (default: topmost Received)")
    scan.add_argument("--auth-user", help="SASL user, which makes the message outbound")
    return parser


def _cmd_serve(args: argparse.Namespace) -> int:
    from postwarden.logsetup import setup_logging
    from postwarden.milter.daemon import StartupError, serve
    from postwarden.runtime import Runtime, build_bundle

    try:
        bundle = build_bundle(args.config)
    except ConfigError as exc:
        print(f"postwarden: configuration refused:\n{exc}", file=sys.stderr)
        return EXIT_USAGE
    setup_logging(bundle.config.log)
    try:
        return serve(Runtime(args.config, bundle))
    except StartupError as exc:
        logging.getLogger("postwarden").error("cannot start: %s", exc)
        print(f"postwarden: cannot start: {exc}", file=sys.stderr)
        return EXIT_PROBLEM


def _cmd_control(args: argparse.Namespace) -> int:
    from postwarden.milter.control import ControlError, send_command

    path = args.socket
    if path is None:
        try:
            path = load_config(args.config).control_socket
        except ConfigError as exc:
            print(f"postwarden: {exc}", file=sys.stderr)
            return EXIT_USAGE
    try:
        ok, message = send_command(path, args.command)
    except ControlError as exc:
        print(f"postwarden: {exc}", file=sys.stderr)
        return EXIT_PROBLEM
    print(message, file=sys.stdout if ok else sys.stderr)
    return EXIT_OK if ok else EXIT_PROBLEM


def _cmd_check_config(args: argparse.Namespace) -> int:
    try:
        load_config(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return EXIT_PROBLEM
    print(f"{args.config}: ok")
    return EXIT_OK


def _cmd_scan(args: argparse.Namespace) -> int:
    from postwarden.engine import Engine
    from postwarden.scan import Envelope, run_scan
    from postwarden.sources import SourceError

    logging.basicConfig(level=logging.WARNING, format="postwarden: %(levelname)s %(message)s")
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    envelope = Envelope(sender=args.sender, rcpts=args.rcpt, client_ip=args.client_ip,
                        helo=args.helo, auth_user=args.auth_user)
    try:
        count, seconds = run_scan(Engine(config), args.paths, envelope, args.json)
    except SourceError as exc:
        print(f"postwarden: {exc}", file=sys.stderr)
        return EXIT_PROBLEM
    except BrokenPipeError:
        return EXIT_OK
    rate = count / seconds if seconds > 0 else 0.0
    print(f"postwarden: scanned {count} message(s) in {seconds:.2f}s ({rate:.0f}/s)",
          file=sys.stderr)
    return EXIT_OK


COMMANDS = {
    "serve": _cmd_serve,
    "reload": _cmd_control,
    "status": _cmd_control,
    "check-config": _cmd_check_config,
    "scan": _cmd_scan,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    return COMMANDS[args.command](args)


if __name__ == "__main__":
    raise SystemExit(main())
