"""The English check: prose in other languages of Europe is told from English, short text is not judged."""

from __future__ import annotations

import pytest

from postwarden.classifiers.language import english_share, other_language
from postwarden.message import parse_message

PROSE = {
    "de": "können wir die Besprechung zum Projektplan auf Donnerstag um 14 Uhr verschieben? Ich "
          "habe die Zahlen aus dem Lager in Hamburg noch nicht vollständig. Viele Grüße, Anna",
    "fr": "pourrions-nous décaler la réunion sur le budget à jeudi après-midi ? Je n'ai pas encore "
          "reçu les chiffres de l'équipe de Lyon. Bien cordialement, Sophie",
    "es": "¿podemos mover la reunión sobre el presupuesto al jueves por la tarde? Todavía no tengo "
          "las cifras del equipo de Madrid. Un saludo, Lucía",
    "nl": "kunnen we het overleg over de planning naar donderdagmiddag verplaatsen? Ik heb de "
          "cijfers van het team in Utrecht nog niet binnen. Groeten, Eva",
    "it": "possiamo spostare la riunione sul budget a giovedì pomeriggio? Non ho ancora ricevuto "
          "i numeri del team di Milano. Cordiali saluti, Giulia",
}
ENGLISH = ("could we move the budget meeting to Thursday afternoon? I still don't have the numbers "
           "from the Leeds team, and without them the plan is a guess. Best, Anna")


def _message(text: str) -> bytes:
    return (f"From: a@example.org\nSubject: meeting\n"
            f"Content-Type: text/plain; charset=utf-8\n\n{text}\n").encode()


@pytest.mark.parametrize("language", sorted(PROSE))
def test_prose_in_other_languages_is_not_english(language: str) -> None:
    assert other_language(parse_message(_message(PROSE[language])))


def test_english_prose_and_short_text_are_judged_as_usual() -> None:
    english = parse_message(_message(ENGLISH))
    assert english_share(english) > 0.15 and not other_language(english)
    short = parse_message(_message("Danke, bis morgen!"))
    assert english_share(short) is None and not other_language(short)
