"""Translations shared by the web app (Flask-Babel) and code outside Flask.

Message ids are English; ``translations/vi`` holds the Vietnamese catalog, and
Vietnamese is the default language.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from babel.support import NullTranslations, Translations

TRANSLATIONS_DIR = Path(__file__).parent / "translations"
LANGUAGES = ("vi", "en")
DEFAULT_LANGUAGE = "vi"


def N_(message: str) -> str:
    """Mark a message for extraction; it is translated where it is shown."""
    return message


@cache
def translations(lang: str) -> NullTranslations:
    if lang not in LANGUAGES or lang == "en":
        return NullTranslations()
    return Translations.load(str(TRANSLATIONS_DIR), [lang], domain="messages")


def translate(message: str, lang: str = DEFAULT_LANGUAGE, **params: object) -> str:
    text = translations(lang).gettext(message)
    return text % params if params else text


# Who a kiosk message speaks to. The Vietnamese catalog speaks to a student ("em"); a teacher is
# addressed as thầy or cô (or "Thầy/Cô" when the optional gender is not known), politely.
AUDIENCES = ("student", "teacher", "teacher_male", "teacher_female")
_TEACHER_PRONOUN = {"teacher": "thầy/cô", "teacher_male": "thầy", "teacher_female": "cô"}
_EM = re.compile(r"\b([Ee]m)\b")


def audience_of(kind: str, gender: str = "") -> str:
    """The audience for a reader: students and student helpers are "em", teachers thầy/cô."""
    if kind != "teacher":
        return "student"
    return {"male": "teacher_male", "female": "teacher_female"}.get(gender, "teacher")


def address(text: str, lang: str, audience: str | None) -> str:
    """A translated message (before its parameters are filled in) worded for ``audience``."""
    pronoun = _TEACHER_PRONOUN.get(audience or "")
    if lang != "vi" or pronoun is None:
        return text
    # "Em hãy trả … nhé." → "Thầy/Cô vui lòng trả …." — a request to a teacher, not an instruction.
    text = re.sub(r"\b([Ee]m) hãy\b", r"\1 vui lòng", text)
    text = re.sub(r" nhé\b", "", text)
    capital = "/".join(word.capitalize() for word in pronoun.split("/"))  # "Thầy/Cô", not "Thầy/cô"
    return _EM.sub(lambda m: capital if m.group(1) == "Em" else pronoun, text)


def translate_for(message: str, lang: str, audience: str | None, **params: object) -> str:
    """:func:`translate`, worded for a reader (see :func:`address`)."""
    text = address(translations(lang).gettext(message), lang, audience)
    return text % params if params else text
