"""Loading rules: located errors for every mistake, includes, lists, overrides, check-rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from postwarden.cli import main
from postwarden.rules.loader import RulesError, load_rules
from tests.unit.rules.helpers import hit_ids, make, one_rule

GOOD = "rules:\n  - id: A\n    description: a\n    score: 1\n    match:\n      subject: {contains: x}\n"


def write(directory: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_text(text)
    return directory


def problems(tmp_path: Path, text: str, extra: dict[str, str] | None = None) -> list[str]:
    write(tmp_path, {"10-x.yaml": text, **(extra or {})})
    with pytest.raises(RulesError) as caught:
        load_rules([tmp_path])
    return [str(p) for p in caught.value.problems]


def rule(match: str, more: str = "", rule_id: str = "R") -> str:
    return f"rules:\n  - id: {rule_id}\n    description: d\n    score: 1\n{more}    match:\n      {match}\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            rule("subjct: {contains: x}"),
            "10-x.yaml:6: rule R: match.subjct: unknown matcher 'subjct'; did you mean subject?",
        ),
        (
            rule("subject: {regex: '(a'}"),
            "10-x.yaml:6: rule R: match.subject.regex: regex does not compile (missing )",
        ),
        (
            rule("subject: {regex: '(?<=a)b'}"),
            "match.subject.regex: regex does not compile (invalid perl operator",
        ),
        (
            rule("subject: {contain: x}"),
            ":6: rule R: match.subject.contain: unknown option for matcher subject "
            "(allowed: equals, contains, regex, in, list, case_sensitive)",
        ),
        (
            rule("subject: {contains: x, regex: y}"),
            "match.subject: matcher subject needs exactly one of equals, "
            "contains, regex, in, list; got contains, regex",
        ),
        (rule("subject: contains"), "match.subject: expected a mapping, got str 'contains'"),
    (rule("subject: {}"), ":6: rule R: match.subject: matcher subject needs exactly one of"),
    (rule("size: {}"), ":6: rule R: match.size: matcher size needs min and/or max"),
        (
            rule("from_domain: {list: lists/missing.txt}"),
            ":6: rule R: match.from_domain.list: list file not found: lists/missing.txt",
        ),
        (
            rule("client_ip: {in: [10.0.0.1/8]}"),
            "match.client_ip.in[0]: expected an IP address or CIDR network",
        ),
        (rule("size: {min: 10, max: 1}"), "match.size: expected min <= max"),
        (rule("size: {min: big}"), "match.size.min: expected a number, got str 'big'"),
        (rule("url_ip_literal: yes please"), "match.url_ip_literal: expected true or false"),
        (rule("all: []"), "match.all: expected a non-empty list of conditions"),
        (rule("header: {exists: true}"), "match.header: matcher header needs a name"),
        (rule("dnsbl: {zone: 'not a zone'}"), "match.dnsbl.zone: expected a DNS zone"),
        (
            rule("subject: {contains: x}", "    action: destroy\n"),
            ":5: rule R: action: expected one of accept, reject",
        ),
        (
            rule("subject: {contains: x}", "    direction: sideways\n"),
            "rule R: direction: expected one of inbound, outbound, any",
        ),
        (rule("subject: {contains: x}", "    reply: 100% sure\n"), "rule R: reply: a '%' in SMTP reply text"),
        (
            rule("subject: {contains: x}", "    action: quarantine\n    reply: held\n"),
            "rule R: reply: a reply is only sent with action reject or tempfail",
        ),
        (
            rule("subject: {contains: x}", "    colour: red\n"),
            ":5: rule R: colour: unknown key (allowed: id, description, enabled",
        ),
        (rule("subject: {contains: x}", rule_id="'bad id!'"), "rule bad id!: id: expected letters, digits"),
        ("rules:\n  - id: R\n    score: 1\n", "rule R: description: a rule needs description"),
        (
            "rules:\n  - id: R\n    description: d\n    match: {subject: {contains: x}}\n",
            "rule R: score: a rule needs a score and/or an action",
        ),
        ("rules:\n  - description: d\n", ":2: rules[0]: a rule needs an id"),
        ("rules: {id: R}\n", ":1: rules: expected a list of rules, got a mapping"),
    (rule("subject: {contains: x}", "    score: 2\n"), ":5: rule R: score: key given twice"),
        ("- just a list\n", ":1: (top level): expected a mapping with rules: [...], got a list"),
        ("rules: [\n", "YAML syntax error"),
        (GOOD + GOOD.removeprefix("rules:\n"), ":7: rule A: id: duplicate id A (first defined at"),
    ],
)
def test_errors_name_file_line_rule_and_key(tmp_path: Path, text: str, expected: str) -> None:
    found = problems(tmp_path, text)
    assert any(expected in p for p in found), found
    assert all(p.startswith(str(tmp_path / "10-x.yaml")) for p in found), found


def test_bad_list_entries_are_located_in_the_list_file(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        rule("from_domain: {list: lists/d.txt}"),
        {"lists/d.txt": "# ok\nexample.com\nnot a domain\n\nbad..dots\n"},
    )
    assert [p.split(": ", 1)[0].rsplit("/", 1)[1] for p in found] == ["d.txt:3", "d.txt:5"]
    assert "expected a domain name such as example.com, got 'not a domain'" in found[0]


def test_every_problem_of_every_file_is_reported_at_once(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "10-a.yaml": rule("subjct: {}"),
            "20-b.yaml": rule("size: {min: x}", rule_id="S"),
            "30-c.yaml": "rules: [\n",
        },
    )
    with pytest.raises(RulesError) as caught:
        load_rules([tmp_path])
    assert [p.file.rsplit("/", 1)[1] for p in caught.value.problems] == [
        "10-a.yaml",
        "20-b.yaml",
        "30-c.yaml",
    ]


def test_files_load_in_name_order_and_includes_in_place(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "20-b.yaml": rule("subject: {contains: x}", rule_id="B"),
            "10-a.yaml": "include: [more/extra.yaml]\n" + rule("subject: {contains: x}", rule_id="A"),
            "more/extra.yaml": rule("subject: {contains: x}", rule_id="INCLUDED"),
            "notes.txt": "not rules",
        },
    )
    ruleset = load_rules([tmp_path])
    assert [r.id for r in ruleset.rules] == ["INCLUDED", "A", "B"]
    assert ruleset.rules[0].where.endswith("more/extra.yaml:2")


def test_a_file_loads_once_and_include_cycles_are_refused(tmp_path: Path) -> None:
    write(tmp_path, {"20-b.yaml": "include: [10-x.yaml]\n", "sub/c.yaml": "include: [../10-x.yaml]\n"})
    found = problems(tmp_path, "include: [sub/c.yaml, nope.yaml]\n" + GOOD)
    assert any(f"{tmp_path / 'sub' / 'c.yaml'}:1: include: " in p and "is already loaded" in p for p in found)
    assert any(f"{tmp_path / '20-b.yaml'}:1: include: " in p and "is already loaded" in p for p in found)
    assert any("10-x.yaml:1: include[1]: file not found: nope.yaml" in p for p in found)


def test_override_in_a_later_directory_changes_a_rule_in_place(tmp_path: Path) -> None:
    pack = write(
        tmp_path / "pack",
        {"10-a.yaml": GOOD + rule("subject: {contains: y}", rule_id="B").removeprefix("rules:\n")},
    )
    local = write(
        tmp_path / "local",
        {
            "10-local.yaml": (
                "rules:\n  - id: A\n    override: true\n    enabled: false\n"
                "  - id: B\n    override: true\n    score: 7\n    shadow: true\n"
            )
        },
    )
    ruleset = load_rules([pack, local])
    a, b = ruleset.rules
    assert (a.id, a.enabled) == ("A", False)
    assert (b.id, b.score, b.shadow, b.description) == ("B", 7.0, True, "d")
    assert "1 disabled, 1 shadow" in ruleset.summary()


def test_override_of_an_unknown_rule_is_an_error(tmp_path: Path) -> None:
    found = problems(tmp_path, "rules:\n  - id: NOPE\n    override: true\n    score: 1\n")
    assert any("rule NOPE: override: no earlier rule with id NOPE" in p for p in found)


def test_all_any_not_combine(tmp_path: Path) -> None:
    check = one_rule(
        tmp_path,
        """
        all:
          - any:
              - subject: {contains: invoice}
              - subject: {contains: payment}
          - not:
              from_domain: {in: [example.org]}
    """,
    )
    assert hit_ids(check, make({"Subject": "payment due", "From": "x@evil.example"})) == ["T"]
    assert hit_ids(check, make({"Subject": "payment due"})) == []  # from example.org
    assert hit_ids(check, make({"Subject": "hello", "From": "x@evil.example"})) == []


def test_several_keys_in_one_condition_must_all_hold(tmp_path: Path) -> None:
    check = one_rule(tmp_path, "subject: {contains: a}\nfrom_domain: {in: [evil.example]}")
    assert hit_ids(check, make({"Subject": "a", "From": "x@evil.example"})) == ["T"]
    assert hit_ids(check, make({"Subject": "a"})) == []


def test_check_rules_prints_a_summary_or_located_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = write(
        tmp_path / "good",
        {"10-a.yaml": rule("from_domain: {list: l.txt}"), "l.txt": "a.example\nb.example\n"},
    )
    assert main(["check-rules", str(good)]) == 0
    out = capsys.readouterr().out
    assert "1 file(s), 1 rule(s) (0 disabled, 0 shadow), 1 list(s), 2 list entries: ok" in out
    bad = write(tmp_path / "bad", {"10-a.yaml": rule("subjct: {}")})
    assert main(["check-rules", str(bad)]) == 1
    err = capsys.readouterr().err
    assert f"{bad / '10-a.yaml'}:6: rule R: match.subjct: unknown matcher" in err
    assert main(["check-rules", str(tmp_path / "nowhere")]) == 1
    assert "rules directory not found" in capsys.readouterr().err


def test_check_rules_without_a_directory_checks_the_shipped_pack(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-rules"]) == 0
    assert ": ok" in capsys.readouterr().out


def test_matchers_are_listed_with_their_docs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-rules", "--matchers"]) == 0
    out = capsys.readouterr().out
    for name in (
        "header",
        "subject",
        "rcpt_domain",
        "client_ip",
        "body",
        "url_anchor_mismatch",
        "archive_member_extension",
        "calendar_summary",
        "dnsbl",
        "uribl",
    ):
        assert f"  {name} (" in out
