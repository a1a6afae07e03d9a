"""The `postwarden` command: the milter daemon and every operator tool under one name."""

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
    scan.add_argument("--explain", action="store_true",
                      help="after each message, list the rules that hit it, in evaluation order")

    rules = sub.add_parser("check-rules", help="validate a rules directory and print a summary")
    _config_arg(rules)
    rules.add_argument("directory", nargs="?", metavar="DIR",
                       help="rules directory (default: those of the configuration)")
    rules.add_argument("--matchers", action="store_true", help="list the matchers rules can use")

    from postwarden.misdirection.cli import add_parser as add_history_parser

    add_history_parser(sub)

    from postwarden.classifiers.text_cli import add_parsers as add_model_parsers

    add_model_parsers(sub, _config_arg)

    from postwarden.quarantine import add_parser as add_quarantine_parser

    add_quarantine_parser(sub)
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
    runtime = Runtime(args.config, bundle)
    from postwarden.rules.watch import watch_runtime

    watch_runtime(runtime)  # rules.watch: reload when a rules file changes
    try:
        return serve(runtime, args.parent_fd)
    except StartupError as exc:
        logging.getLogger("postwarden").error("cannot start: %s", exc)
        print(f"postwarden: cannot start: {exc}", file=sys.stderr)
        return EXIT_PROBLEM


def _control_socket_of_broken_config(config_path: str | None) -> str | None:
    """control_socket of a file that does not validate, if it can be read at all."""
    import yaml

    from postwarden.config import Config

    try:
        with open(config_path or "", encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    value = data.get("control_socket", Config().control_socket) if isinstance(data, dict) else None
    return value if isinstance(value, str) and value.startswith("/") else None


def _cmd_control(args: argparse.Namespace) -> int:
    from postwarden.milter.control import ControlError, send_command

    path = args.socket
    if path is None:
        try:
            path = load_config(args.config).control_socket
        except ConfigError as exc:
            # A broken file is what `reload` must report, but the daemon has to hear of it too
            # (its log and `status` say why the old configuration stays): find its socket anyway.
            path = _control_socket_of_broken_config(args.config)
            if path is None:
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
    """Validate with the daemon's own loader: the file, and the rules and models it names."""
    from postwarden.engine import Engine

    logging.basicConfig(level=logging.WARNING, format="postwarden: %(levelname)s %(message)s")
    try:
        Engine(load_config(args.config))
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
        engine = Engine(config)  # loads the rules, which may be refused
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    runner = run_scan
    if args.explain:
        from postwarden.rules.explain import run_explained_scan

        runner = run_explained_scan
    try:
        count, seconds = runner(engine, args.paths, envelope, args.json)
    except SourceError as exc:
        print(f"postwarden: {exc}", file=sys.stderr)
        return EXIT_PROBLEM
    except BrokenPipeError:
        return EXIT_OK
    rate = count / seconds if seconds > 0 else 0.0
    print(f"postwarden: scanned {count} message(s) in {seconds:.2f}s ({rate:.0f}/s)",
          file=sys.stderr)
    return EXIT_OK


def _cmd_check_rules(args: argparse.Namespace) -> int:
    from postwarden.rules.cli import check_rules, list_matchers

    if args.matchers:
        return list_matchers()
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    return check_rules(config, args.directory)


def _cmd_history(args: argparse.Namespace) -> int:
    from postwarden.misdirection.cli import history_command

    return history_command(args)


def _cmd_quarantine(args: argparse.Namespace) -> int:
    from postwarden.quarantine import quarantine_command

    return quarantine_command(args)


def _model_command(name: str, args: argparse.Namespace) -> int:
    from postwarden.classifiers import text_cli

    return getattr(text_cli, name)(args)


COMMANDS = {
    "serve": _cmd_serve,
    "reload": _cmd_control,
    "status": _cmd_control,
    "check-config": _cmd_check_config,
    "scan": _cmd_scan,
    "check-rules": _cmd_check_rules,
    "history": _cmd_history,
    "quarantine": _cmd_quarantine,
    "train": lambda args: _model_command("cmd_train", args),
    "eval": lambda args: _model_command("cmd_eval", args),
    "learn": lambda args: _model_command("cmd_learn", args),
    "model": lambda args: _model_command("cmd_model", args),
}


def main(argv: Sequence[str] | None = None) -> int:
    if list(sys.argv[1:] if argv is None else argv)[:1] == ["serve"]:
        # Fork before anything starts a thread (numpy's OpenBLAS pool, rule watchers): the
        # parent keeps the signals, the child runs libmilter with them blocked in every
        # thread (a thread that left SIGTERM unblocked would take it with the default action
        # and kill the daemon outright). See milter/supervisor.py.
        from postwarden.milter.supervisor import run_supervised

        return run_supervised(lambda parent_fd: _dispatch(argv, parent_fd))
    return _dispatch(argv)


def _dispatch(argv: Sequence[str] | None, parent_fd: int | None = None) -> int:
    args = _build_parser().parse_args(argv)
    args.parent_fd = parent_fd
    return COMMANDS[args.command](args)


if __name__ == "__main__":
    raise SystemExit(main())
