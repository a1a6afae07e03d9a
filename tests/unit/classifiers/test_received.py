"""Received-chain shape tokens: what the receiving MTA's hop says about who handed the mail in."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from postwarden.classifiers.features import Featuriser
from postwarden.classifiers.received import ANY, TOKENS, arrival_hop, received_tokens
from postwarden.classifiers.training import centre_on_negatives
from postwarden.message import parse_message

OURS = "from mail.partner.example (mail.partner.example [198.51.100.7]) by mx.ours.example (Postfix) " \
       "with ESMTPS id 4AbC; Tue, 1 Dec 2026 10:00:00 +0000 (UTC)"
FETCHED = "from localhost (localhost [127.0.0.1]) by box.ours.example (Postfix) with LMTP id 9; " \
          "Tue, 1 Dec 2026 10:00:02 +0000"


def test_a_named_server() -> None:
    tokens = received_tokens([OURS])
    assert tokens == {ANY, "r:mx-rdns:named"}


def test_the_receiving_sides_own_hops_are_skipped() -> None:
    assert received_tokens([FETCHED, OURS]) == received_tokens([OURS])


def test_a_dial_up_client_greeting_with_another_ip() -> None:
    hop = ("from 10.1.2.3 (adsl-141-154-210-66.ba-dsg.net [141.154.210.66]) by mx.ours.example "
           "(Postfix) with SMTP id 1; Tue, 1 Dec 2026 10:00:00 +0000")
    tokens = received_tokens([hop])
    assert {ANY, "r:mx-rdns:dynamic", "r:mx-helo:ip-other"} <= tokens


def test_no_reverse_dns_in_postfix_sendmail_and_qmail_spellings() -> None:
    for hop in ("from helo.example (unknown [203.0.113.9]) by mx.ours.example (Postfix) with ESMTP id 1; "
                "Tue, 1 Dec 2026 10:00:00 +0000",
                "from antee.com ([195.13.198.150]) by mx.ours.example (8.11.6/8.11.6) with ESMTP id g1; "
                "Wed, 27 Feb 2002 04:57:27 GMT",
                "from unknown (HELO in2.example.org) (203.0.113.15) by mx.ours.example with SMTP; "
                "20 Jul 2002 12:22:54 -0000"):
        assert "r:mx-rdns:none" in received_tokens([hop]), hop


def test_forged_relay_lines_below_the_receiving_hop() -> None:
    forged = ("from 30.215.79.204 ([30.215.79.204]) by m10.grp.snv.yahoo.com with SMTP; "
              "Jul, 24 2002 4:33:02 PM -0700")
    tokens = received_tokens([OURS, forged])
    assert "r:odd-date" in tokens
    lying = "from 210.143.86.66 ([202.29.80.9]) by relay.example (8.9.3/8.9.3) with SMTP id V; " \
            "Wed, 24 Jul 2002 21:24:06 +0100"
    assert "r:relay-helo:ip-other" in received_tokens([OURS, lying])


def test_mail_without_a_chain_or_only_internal_hops_gets_nothing() -> None:
    assert received_tokens([]) == set()
    assert received_tokens([FETCHED]) == set()


def test_every_token_is_in_the_closed_vocabulary() -> None:
    hops = [OURS, "from x (user@adsl-1-2-3-4.isp.example [192.0.2.1] (may be forged)) by y with ESMTPA; bad",
            "from [203.0.113.1] (helo=bare) by mx with esmtp; 1 Jan 2026 00:00 +0000"]
    for first in hops:
        assert received_tokens([first, *hops]) <= set(TOKENS)


def test_the_featuriser_emits_the_shape_tokens() -> None:
    raw = (f"Received: {OURS}\r\nFrom: Pat <pat@partner.example>\r\nTo: a@ours.example\r\n"
           "Subject: lunch\r\n\r\nSee you at noon.\r\n").encode()
    names = Featuriser().transform(parse_message(raw)).names
    assert {"r:any", "r:mx-rdns:named"} <= set(names)


def test_centring_takes_the_offset_of_having_a_chain_out_of_the_ham() -> None:
    # Columns: 0 = r:any, 1 = r:mx-rdns:named, 2 = a text word. Rows 0-1 ham with a chain,
    # row 2 ham without one, row 3 spam.
    X = sp.csr_matrix(np.array([[0.125, 0.125, 1.0], [0.125, 0.125, 0.0], [0.0, 0.0, 1.0],
                                [0.125, 0.0, 1.0]]))
    y = np.array([0, 0, 0, 1])
    weights = np.array([4.0, 2.0, 0.5])
    shift = centre_on_negatives(weights, X, y, np.ones(4), np.array([0, 1]), 0)
    assert shift == 0.75
    contribution = X[:2] @ np.array([weights[0], weights[1], 0.0])
    assert np.allclose(contribution, 0.0)
    assert weights[2] == 0.5


def test_the_connection_stands_in_for_the_hop_postfix_does_not_pass_on() -> None:
    arrival = arrival_hop("141.154.210.66", "[141.154.210.66]", "10.0.0.7", authenticated=False)
    assert {"r:mx-rdns:none", "r:mx-helo:ip-other"} <= received_tokens([], arrival)
    named = arrival_hop("198.51.100.7", "mail.partner.example", "mail.partner.example", authenticated=False)
    assert received_tokens([], named) == received_tokens([OURS])
    submitted = arrival_hop("198.51.100.7", "a.example", "a.example", authenticated=True)
    assert "r:mx-authenticated" in received_tokens([], submitted)
    assert arrival_hop(None, None, None, False) is None


def test_the_connection_is_not_counted_twice_when_the_chain_has_its_hop() -> None:
    # Sendmail passes its own header, and a stored message has it: the same client's hop.
    arrival = arrival_hop("198.51.100.7", "[198.51.100.7]", "x", authenticated=False)
    assert received_tokens([OURS], arrival) == received_tokens([OURS])


def test_the_text_check_reads_the_connection() -> None:
    raw = (b"From: Pat <pat@partner.example>\r\nTo: a@ours.example\r\nSubject: lunch\r\n\r\n"
           b"See you at noon.\r\n")
    featuriser = Featuriser()
    message = parse_message(raw)
    arrival = arrival_hop("141.154.210.66", "adsl-141-154-210-66.ba-dsg.net", "bare", authenticated=False)
    names = set(featuriser.transform(message, arrival).names)
    assert {"r:any", "r:mx-rdns:dynamic", "r:mx-helo:bare"} <= names
    assert not any(name.startswith("r:") for name in featuriser.transform(message).names)


def test_ipv6_clients_are_read_like_ipv4_ones() -> None:
    hop = ("from mail-ed1-x52f.google.com (mail-ed1-x52f.google.com [IPv6:2a00:1450:4864:20::52f]) "
           "by mx.ours.example (Postfix) with ESMTPS id 4Ab; Tue, 1 Dec 2026 10:00:00 +0000")
    assert received_tokens([hop]) == {ANY, "r:mx-rdns:named"}
    lan = "from pc (pc.lan [IPv6:fd00::5]) by mx.ours.example (Postfix) with ESMTP; 1 Dec 2026 10:00 +0000"
    assert received_tokens([lan]) == set()
    arrival = arrival_hop("2001:db8:1::7", "[2001:db8:1::7]", "[IPv6:2001:db8:1::9]", authenticated=False)
    assert {"r:mx-rdns:none", "r:mx-helo:ip-other"} <= received_tokens([], arrival)
