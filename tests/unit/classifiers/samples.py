"""Mail the project writes itself, for the classifier tests (no corpus message is shipped).

``synthetic_corpus`` draws ham, spam and phishing from word pools with a fixed seed: enough for
a small model to learn in a second. ``SPAM_SAMPLES`` and ``HAM_SAMPLES`` are hand-written
messages in the style of real ones, for tests that run the shipped default model.
"""

from __future__ import annotations

import random
from email.message import EmailMessage

HAM_WORDS = [
    "meeting",
    "agenda",
    "project",
    "schedule",
    "review",
    "budget",
    "quarter",
    "report",
    "draft",
    "team",
    "notes",
    "attached",
    "tomorrow",
    "afternoon",
    "office",
    "call",
    "discuss",
    "proposal",
    "contract",
    "client",
    "update",
    "thanks",
    "regards",
    "deadline",
    "friday",
    "monday",
    "presentation",
    "slides",
    "minutes",
    "comments",
    "revised",
    "version",
    "spreadsheet",
    "forecast",
    "pipeline",
    "gas",
    "trading",
    "desk",
    "counterparty",
    "legal",
    "approval",
    "signed",
    "copy",
    "lunch",
]
SPAM_WORDS = [
    "free",
    "viagra",
    "cheap",
    "pills",
    "offer",
    "click",
    "here",
    "now",
    "limited",
    "time",
    "guaranteed",
    "money",
    "cash",
    "loan",
    "winner",
    "prize",
    "credit",
    "mortgage",
    "rates",
    "save",
    "discount",
    "order",
    "online",
    "unsubscribe",
    "amazing",
    "deal",
    "act",
    "now",
    "risk",
    "free",
    "million",
    "dollars",
    "income",
    "home",
    "business",
    "lowest",
    "price",
    "meds",
    "pharmacy",
]
PHISH_WORDS = [
    "account",
    "verify",
    "suspended",
    "security",
    "alert",
    "confirm",
    "identity",
    "password",
    "login",
    "bank",
    "paypal",
    "update",
    "billing",
    "information",
    "unusual",
    "activity",
    "restore",
    "access",
    "within",
    "hours",
    "customer",
    "service",
    "department",
    "click",
    "link",
    "verify",
    "immediately",
    "locked",
    "unauthorized",
]


def _message(
    sender: str, subject: str, body: str, html: str | None = None, message_id: str | None = None
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "someone@example.org"
    msg["Subject"] = subject
    if message_id:
        msg["Message-ID"] = message_id
    msg.set_content(body)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    return msg.as_bytes()


def synthetic(kind: str, i: int, rng: random.Random) -> bytes:
    words = {"ham": HAM_WORDS, "spam": SPAM_WORDS, "phish": PHISH_WORDS}[kind]
    mixed = [*words, *rng.sample(HAM_WORDS, 4)] if kind != "ham" else words
    subject = " ".join(rng.choice(words) for _ in range(4))
    body = " ".join(rng.choice(mixed) for _ in range(rng.randint(30, 80)))
    if kind == "spam":
        body += f"\nhttp://deals-{rng.randint(1, 9)}.example.biz/offer\n"
    elif kind == "phish":
        body += f"\nhttps://secure-login-{rng.randint(1, 9)}.example.info/verify\n"
    sender = {
        "ham": "colleague@corp.example",
        "spam": "promo@deals.example.biz",
        "phish": "security@bank-alerts.example.info",
    }[kind]
    return _message(sender, subject, body, message_id=f"<{kind}-{i}@synthetic.example>")


def synthetic_corpus(n: int = 120, seed: int = 7) -> dict[str, list[bytes]]:
    rng = random.Random(seed)
    return {kind: [synthetic(kind, i, rng) for i in range(n)] for kind in ("ham", "spam", "phish")}


def write_mbox(path, messages: list[bytes]) -> None:
    with open(path, "wb") as out:
        for raw in messages:
            out.write(b"From sender@example.org Thu Aug 22 13:17:22 2002\n")
            out.write(raw.replace(b"\nFrom ", b"\n>From "))
            out.write(b"\n")


SPAM_SAMPLES = [
    _message(
        "Pharmacy Direct <sales@cheap-meds-online.example.biz>",
        "Lowest prices on Viagra and Cialis!!!",
        "Dear friend,\n\nBuy Viagra, Cialis and Levitra online at the lowest prices. No prescription "
        "needed! Discreet shipping worldwide. Order now and save 80%!\n\nClick here: "
        "http://cheap-meds-online.example.biz/order\n\nTo be removed from our mailing list click here.",
    ),
    _message(
        "Financial Freedom <info@homebiz-cash.example.com>",
        "Make $5000 a week from home - guaranteed",
        "Are you tired of working for someone else? Earn $5000 a week from the comfort of your home! "
        "This is not a scam. Thousands of people are already making money with our proven system. "
        "No experience required. Act now, this offer is for a limited time only!\n\n"
        "Click here to start: http://homebiz-cash.example.com/start\n\nYou received this because you "
        "opted in. To unsubscribe reply with REMOVE in the subject.",
    ),
    _message(
        "Mortgage Center <rates@lowrates.example.net>",
        "Refinance now at 3.25% - you have been approved",
        "Congratulations! Your mortgage application has been pre-approved. Lower your monthly payments "
        "today. Rates are at an all time low. Bad credit? No problem! Get a free quote in 2 minutes, "
        "no obligation.\n\nhttp://lowrates.example.net/apply\n\nIf you wish to be removed from our "
        "list, click here.",
    ),
    _message(
        "Prize Department <claims@lottery-winners.example.org>",
        "CONGRATULATIONS YOU ARE A WINNER",
        "Dear Winner,\n\nYour email address has won $1,000,000 in our international lottery promotion. "
        "To claim your prize, send your full name, address and phone number to our claims agent. "
        "Act now! This offer expires in 48 hours.\n\nhttp://lottery-winners.example.org/claim",
    ),
    _message(
        "Replica Watches <shop@luxury-replica.example.biz>",
        "Rolex replica watches - 90% off",
        "Get the look of luxury for less! Top quality replica watches: Rolex, Omega, Cartier. Free "
        "shipping on all orders. Order today and get a free gift! Limited stock, buy now!\n\n"
        "http://luxury-replica.example.biz/shop\n\nUnsubscribe: http://luxury-replica.example.biz/remove",
    ),
]

PHISH_SAMPLES = [
    _message(
        "PayPal <service@paypal-security.example.info>",
        "Your account has been limited",
        "Dear PayPal customer,\n\nWe have noticed unusual activity on your account. For your "
        "protection your account access has been limited. Please verify your identity within 24 "
        "hours to restore full access, or your account will be suspended.\n\nVerify your account "
        "now: http://paypal-security.example.info/webscr/login\n\nThank you,\nPayPal Security Department",
    ),
]

HAM_SAMPLES = [
    _message(
        "Ann Smith <ann.smith@corp.example>",
        "Re: budget review on Thursday",
        "Hi Bob,\n\nThanks for sending the draft. I have a few comments on the third quarter numbers, "
        "mostly about the travel line. Can we go through them on Thursday after the team meeting?\n\n"
        "I will bring the revised spreadsheet.\n\nAnn",
    ),
    _message(
        "Carlos Diaz <cdiaz@corp.example>",
        "contract for the new supplier",
        "Legal has approved the contract with the changes we discussed last week. I attached the "
        "signed copy to the ticket. Please forward it to accounting so they can set up the vendor.\n\n"
        "Regards,\nCarlos",
    ),
    _message(
        "Mei Lin <mei@corp.example>",
        "lunch?",
        "Are you free for lunch tomorrow? The usual place at 12:30 works for me.\n\nMei",
    ),
]
