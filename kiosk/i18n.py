"""Translations shared by the web app (Flask-Babel) and code outside Flask.

Message ids are English; ``translations/vi`` holds the Vietnamese catalog, and
Vietnamese is the default language.
"""

from __future__ import annotations

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
