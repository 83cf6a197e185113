"""One error base class: a machine code, an HTTP status and a translatable message."""

from __future__ import annotations

from typing import Any

from .i18n import DEFAULT_LANGUAGE, N_, translate_for

__all__ = ["MuontraError", "N_"]


class MuontraError(Exception):
    code: str = "error"
    # Former names of ``code`` (e.g. ``item_on_loan`` before the physical book was called a *copy*
    # everywhere). The error JSON carries them as ``aliases`` so a client written against an old
    # name still recognises the refusal; README lists them.
    aliases: tuple[str, ...] = ()
    message: str = N_("Something went wrong.")
    http_status: int = 400
    # Who the message speaks to (kiosk.i18n.AUDIENCES); the service that knows the reader sets it.
    audience: str | None = None

    def __init__(self, **params: Any) -> None:
        self.params = params
        super().__init__(self.message_in("en"))

    def message_in(self, lang: str = DEFAULT_LANGUAGE) -> str:
        return translate_for(self.message, lang, self.audience, **self.params)

    def to_dict(self, lang: str = DEFAULT_LANGUAGE) -> dict[str, Any]:
        answer: dict[str, Any] = {"code": self.code, "message": self.message_in(lang)}
        if self.aliases:
            answer["aliases"] = list(self.aliases)
        return answer


class BadInput(MuontraError):
    code = "bad_input"
    message = N_("The request could not be understood.")


class InvalidJson(BadInput):
    code = "invalid_json"
    message = N_("The request is not valid JSON.")


class ExpectedObject(BadInput):
    code = "expected_object"
    message = N_("The request must be a JSON object.")


class FieldMustBeText(BadInput):
    code = "field_must_be_text"
    message = N_("The field '%(field)s' is missing or is not text.")


class PayloadTooLarge(MuontraError):
    code = "too_large"
    message = N_("What was sent is too large.")
    http_status = 413
