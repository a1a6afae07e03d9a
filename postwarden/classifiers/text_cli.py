"""The operator's model commands: ``train``, ``eval``, ``learn`` and ``model list|use``.

``train`` and ``eval`` take files, mbox, maildir, directories and ``.tar.*`` archives, so the
public corpora are read as published. Both use ``split.py``: ``train`` never reads the test
split; ``eval`` reports on the test split unless told otherwise. A model file named on the
command line is trusted because the operator named it; the daemon loads only from its
configured model directory and the shipped one.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

EXIT_OK, EXIT_PROBLEM, EXIT_USAGE = 0, 1, 2
SPLITS = ("train", "validation", "test", "all")


def _sources(parser: argparse.ArgumentParser, required_ham: bool = True) -> None:
    parser.add_argument("--ham", nargs="+", action="extend", default=[], metavar="PATH",
                        required=required_ham, help="legitimate mail")
    parser.add_argument("--spam", nargs="+", action="extend", default=[], metavar="PATH", help="spam")
    parser.add_argument("--phish", nargs="+", action="extend", default=[], metavar="PATH",
                        help="phishing")


def add_parsers(sub: Any, config_arg: Any) -> None:
    train = sub.add_parser("train", help="train the spam and phishing text models on labelled mail")
    _sources(train)
    train.add_argument("-o", "--output", required=True, metavar="MODEL", help="model file to write")
    train.add_argument("--C", type=float, default=100.0, help="inverse L2 strength (default 100)")
    train.add_argument("--max-weights", type=int, default=200_000,
                       help="weights kept per head in the file (default 200000)")
    train.add_argument("--version", help="version name stored in the file (default: UTC time)")
    train.add_argument("--bits", type=int, default=20, choices=range(12, 25), metavar="BITS",
                       help="hash features into 2**BITS slots (12..24, default 20)")
    train.add_argument("--jobs", type=int, default=None, help="featurising processes")

    ev = sub.add_parser("eval", help="measure a model on labelled mail (ROC AUC, recall at FPR, ...)")
    ev.add_argument("model", metavar="MODEL")
    _sources(ev)
    ev.add_argument("--split", choices=SPLITS, default="test",
                    help="which split of the data to measure on (default: test)")
    ev.add_argument("--json", metavar="FILE", help="write the report as JSON")
    ev.add_argument("--plots", metavar="DIR", help="write ROC and score-histogram PNGs here")
    ev.add_argument("--jobs", type=int, default=None, help="featurising processes")

    learn = sub.add_parser("learn", help="learn a new model version from misjudged mail")
    config_arg(learn)
    _sources(learn, required_ham=False)
    learn.add_argument("--check-ham", nargs="+", action="extend", default=[], metavar="PATH",
                       help="extra held-out ham to measure the new version on")
    learn.add_argument("--check-spam", nargs="+", action="extend", default=[], metavar="PATH",
                       help="extra held-out spam to measure the new version on")
    learn.add_argument("--check-phish", nargs="+", action="extend", default=[], metavar="PATH",
                       help="extra held-out phishing to measure the new version on")
    learn.add_argument("--force", action="store_true", help="keep the new version even if worse")
    learn.add_argument("--version", help="name of the new version (default: UTC time)")

    model = sub.add_parser("model", help="list the model versions or switch to one")
    config_arg(model)
    model_sub = model.add_subparsers(dest="model_command", required=True)
    model_sub.add_parser("list", help="list versions (* marks the one in use)")
    use = model_sub.add_parser("use", help="make VERSION current (then: postwarden reload)")
    use.add_argument("version", metavar="VERSION")


def _labelled(args: argparse.Namespace) -> list[tuple[str, str]]:
    return [(label, path) for label in ("ham", "spam", "phish") for path in getattr(args, label)]


def _say(text: str) -> None:
    print(f"postwarden: {text}", file=sys.stderr, flush=True)


def cmd_train(args: argparse.Namespace) -> int:
    from postwarden.classifiers.features import FeaturiserSettings
    from postwarden.classifiers.split import TEST, split_of_bucket
    from postwarden.classifiers.training import read_examples, train_model
    from postwarden.sources import SourceError

    if not args.spam and not args.phish:
        _say("train needs --spam or --phish as well as --ham")
        return EXIT_USAGE
    settings = FeaturiserSettings(n_bits=args.bits)
    started = time.monotonic()
    try:
        # the test split is never read: training cannot see it, even by accident
        examples = read_examples(_labelled(args), settings, keep=lambda b: split_of_bucket(b) != TEST,
                                 jobs=args.jobs,
                                 progress=_say)
    except SourceError as exc:
        _say(str(exc))
        return EXIT_PROBLEM
    try:
        model = train_model(examples, settings, C=args.C, max_weights=args.max_weights,
                            version=args.version, progress=_say)
    except ValueError as exc:
        _say(str(exc))
        return EXIT_PROBLEM
    model.info["training"]["sources"] = _labelled(args)
    path = model.save(args.output, max_weights=args.max_weights)
    from postwarden.classifiers.evaluation import format_metrics

    for head, metrics in model.info["validation"].items():
        print(format_metrics(f"{head} (validation)", metrics))
    size = path.stat().st_size
    _say(f"wrote {path} (version {model.version}, {size / 1e6:.2f} MB) in {time.monotonic() - started:.0f}s")
    return EXIT_OK


def evaluate_examples(model: Any, examples: list[Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Report and plot data for every head with both classes present."""
    from postwarden.classifiers.evaluation import head_metrics
    from postwarden.classifiers.training import decision

    report: dict[str, Any] = {"model": model.version, "heads": {}}
    curves: dict[str, Any] = {}
    positives_of = {"spam": "spam", "phish": "phish"}
    for name, head in model.heads.items():
        rows = [e for e in examples if e.label in ("ham", positives_of[name])]
        y = np.array([e.label != "ham" for e in rows], dtype=bool)
        if not y.any() or y.all():
            continue
        p = head.probabilities(decision(head, rows))
        metrics = head_metrics(p[~y], p[y], head.threshold)
        metrics["ham_fpr_by_source"] = {
            group: float(np.mean(p[[i for i, e in enumerate(rows) if e.group == group]] >= head.threshold))
            for group in sorted({e.group for e in rows if e.label == "ham"})}
        report["heads"][name] = metrics
        curves[name] = (p[~y], p[y], head.threshold)
    return report, curves


def cmd_eval(args: argparse.Namespace) -> int:
    from postwarden.classifiers.evaluation import format_metrics, write_json, write_plots
    from postwarden.classifiers.model_file import ModelError, load_model
    from postwarden.classifiers.training import read_examples
    from postwarden.sources import SourceError

    try:
        model = load_model(args.model, [Path(args.model).resolve().parent])
    except ModelError as exc:
        _say(str(exc))
        return EXIT_PROBLEM
    from postwarden.classifiers.split import split_of_bucket

    def keep(b: int) -> bool:
        return args.split == "all" or split_of_bucket(b) == args.split

    try:
        examples = read_examples(_labelled(args), model.featuriser.settings, keep=keep, jobs=args.jobs)
    except SourceError as exc:
        _say(str(exc))
        return EXIT_PROBLEM
    report, curves = evaluate_examples(model, examples)
    report["split"] = args.split
    if not report["heads"]:
        _say("nothing to measure: give --ham and --spam and/or --phish with messages in the split")
        return EXIT_PROBLEM
    for name, metrics in report["heads"].items():
        print(format_metrics(f"{name} ({args.split} split, model {model.version})", metrics))
        for group, fpr in metrics["ham_fpr_by_source"].items():
            print(f"  ham FPR at threshold, {group}: {fpr * 100:.3f}%")
    try:
        if args.json:
            write_json(args.json, report)
        if args.plots:
            for path in write_plots(args.plots, curves):
                _say(f"wrote {path}")
    except OSError as exc:
        _say(f"cannot write the report: {exc}")
        return EXIT_PROBLEM
    return EXIT_OK


def cmd_learn(args: argparse.Namespace) -> int:
    from postwarden.classifiers.learning import (
        featurise_feedback,
        learn,
        load_feedback,
        merge_feedback,
        save_feedback,
    )
    from postwarden.classifiers.model_file import ModelError
    from postwarden.classifiers.model_store import ModelStore
    from postwarden.config import ConfigError, load_config
    from postwarden.sources import SourceError

    if not (args.ham or args.spam or args.phish):
        _say("learn needs --spam, --ham or --phish with the misjudged mail")
        return EXIT_USAGE
    try:
        settings = load_config(args.config).models
        store = ModelStore(settings.directory)
        running = store.load(settings.version)
        if store.fallback:
            _say(f"note: {store.fallback}; learning from the shipped model")
        new_feedback = []
        for label, path in _labelled(args):
            new_feedback.extend(featurise_feedback(running, label, [path]))
        check = []
        for label, paths in (("ham", args.check_ham), ("spam", args.check_spam),
                             ("phish", args.check_phish)):
            if paths:
                check.extend(featurise_feedback(running, label, paths, group="check"))
        version = running.featuriser.settings.version
        kept, dropped = load_feedback(store.directory, version)
        if dropped:
            _say(f"{dropped} earlier feedback message(s) dropped: an older featuriser made their "
                 f"features (this one is {version}) and the mail itself is not kept; give that "
                 "mail to learn again to keep it")
        feedback = merge_feedback(kept, new_feedback)
        save_feedback(store.directory, feedback, version)
        overrides = {"spam": settings.spam_threshold, "phish": settings.phish_threshold}
        model, report = learn(running, feedback, check, settings.learn_margin, args.force, args.version,
                              {head: t for head, t in overrides.items() if t is not None})
    except (ConfigError, ModelError, SourceError, OSError) as exc:
        _say(str(exc))
        return EXIT_PROBLEM
    _say(f"{len(new_feedback)} new message(s); {report.learned} learned from, {report.held_out} held out")
    for head in report.after:
        _say(f"{head}: held-out error {report.before[head]:.4f} -> {report.after[head]:.4f}")
    if report.reason:
        _say(report.reason)
    for label in report.unchecked:
        harm = "false positives" if label == "ham" else f"missed {label}"
        _say(f"note: no held-out {label} to measure the new version on, so more {harm} would go "
             f"unnoticed; add --check-{label} with some recent {label}")
    if not report.accepted:
        _say(f"refused: version {running.version} stays (use --force to keep the new one anyway)")
        return EXIT_PROBLEM
    try:
        path = store.add(model)
        store.use(model.version)
    except (ModelError, OSError) as exc:
        _say(str(exc))
        return EXIT_PROBLEM
    _say(f"wrote {path}; version {model.version} is current (previous: {running.version}); "
         "run `postwarden reload` so the daemon uses it")
    _warn_pinned(settings.version)
    return EXIT_OK


def _warn_pinned(version: str) -> None:
    if version != "current":
        _say(f"note: the configuration pins models.version: {version}, so the daemon keeps using "
             "that until the setting is `current`")


def cmd_model(args: argparse.Namespace) -> int:
    from postwarden.classifiers.model_file import ModelError
    from postwarden.classifiers.model_store import ModelStore
    from postwarden.config import ConfigError, load_config

    try:
        settings = load_config(args.config).models
        store = ModelStore(settings.directory)
        if args.model_command == "list":
            for info in store.versions():
                mark = "*" if info.current else " "
                problem = store.problem_of(info.path)
                print(f"{mark} {info.version:<24} {info.path}" + (f"  ({problem})" if problem else ""))
            if settings.version != "current":
                _warn_pinned(settings.version)
            return EXIT_OK
        model = store.use(args.version)
    except (ConfigError, ModelError, OSError) as exc:
        _say(str(exc))
        return EXIT_PROBLEM
    _say(f"version {model.version} is current; run `postwarden reload` so the daemon uses it")
    _warn_pinned(settings.version)
    return EXIT_OK
