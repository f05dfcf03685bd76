"""Error reports that never show a secret, a token or a client assertion.

Django's technical 500 page (DEBUG on: the default outside production, and the demo) and its
error e-mails show every frame's local variables, the request's POST data, META, cookies,
settings and the exception's message. Django's own SafeExceptionReporterFilter does nothing
while DEBUG is on, and otherwise hides only what `sensitive_variables` and
`sensitive_post_parameters` name; but the client secret also sits in msal's frames (the
token request's form data, `client_secret=...` in the body requests prepares), a client
assertion would too, and the bearer token in requests' headers: frames nobody can decorate.

`SecretScrubbingFilter` (settings.DEFAULT_EXCEPTION_REPORTER_FILTER) is therefore always on
and, besides honouring those decorators:

- hides every variable, dict key, POST parameter, META entry, cookie and setting whose name
  looks secret (`secret_name`: secret, token, assertion, password, credential,
  authorization, key, signature, cookie, ...);
- walks dicts, lists, tuples, sets and MultiValueDicts, hiding values by key, recursively;
- scrubs the text of every other value, including the repr of objects that carry secrets
  (`scrub_text`): form-encoded and query pairs (`client_secret=...`, `code=...`), quoted
  pairs (`"access_token": "..."`, `'Authorization': '...'`, `token='...'`), HTTP
  credentials (`Bearer ...`, `Basic ...`), JWTs, passwords in URLs, PEM private keys;
- masks every secret and token this process encrypted or decrypted
  (tenants.crypto.known_plaintexts), wherever it appears and under whatever name;

`SecretScrubbingReporter` (settings.DEFAULT_EXCEPTION_REPORTER) adds what Django's reporter
renders without asking the filter: GET parameters, the URL and the exception's message.
`ScrubbingLogFilter` does the same for log lines. What none can reach is listed in
docs/security.md; tests/portal/test_error_pages.py proves the rest.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import ItemsView, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

from django.http import HttpRequest, QueryDict
from django.template.defaultfilters import pprint
from django.utils.datastructures import MultiValueDict
from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

from tenants import crypto

SUBSTITUTE = SafeExceptionReporterFilter.cleansed_substitute

# Parts of a name that mark its value as secret (matched anywhere in the name).
# A pattern of secret names to scrub, not a secret (bandit B105).
_SECRET_PARTS = (  # nosec B105
    r"secret|token|assertion|passw|pwd|passphrase|credential|authori[sz]ation|api[_\-]?key|"
    r"private[_\-]?key|signature|signing|cookie|session[_\-]?id|session[_\-]?key|csrf|"
    r"bearer|fernet|jwt|code[_\-]?verifier|dsn"
)
# Whole words that do the same (`key`, `auth`) without hiding `monkey` or `authority`.
# Words of secret names to scrub, not a secret (bandit B105).
_SECRET_WORDS = r"auth|keys?|pass|sig"  # nosec B105
_SECRET_NAME = re.compile(rf"(?:{_SECRET_PARTS})|(?:^|_)(?:{_SECRET_WORDS})(?:$|_)", re.I)
# In form-encoded text and query strings, the OAuth authorization code counts too.
_PARAM_NAME = rf"[\w.\-\[\]]*(?:{_SECRET_PARTS})[\w.\-\[\]]*|{_SECRET_WORDS}|code"

_TEXT_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # PEM private keys, whole.
    (
        re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S),
        SUBSTITUTE,
    ),
    # HTTP credentials: "Bearer eyJ...", "Basic Y2xp...".
    (
        re.compile(
            r"(?i)\b(bearer|basic|pop)(\s+)"
            # a credential has a digit or an inner separator: "Basic information." stays
            r"(?=[A-Za-z0-9\-._~+/]*(?:[0-9]|[._\-~+/][A-Za-z0-9]))[A-Za-z0-9\-._~+/]{8,}=*"
        ),
        rf"\1\2{SUBSTITUTE}",
    ),
    # Quoted pairs: JSON, dict and header reprs ("access_token": "...", 'client_secret': b'...').
    (
        re.compile(
            rf"""(?i)(["'])([^"'\s]*?(?:{_SECRET_PARTS}|(?<=["'_\-])(?:{_SECRET_WORDS})(?=["'_\-]))[^"'\s]*)\1(\s*[:=]\s*b?)(["'])(?:\\.|(?!\4).)*\4"""
        ),
        rf"\1\2\1\3\4{SUBSTITUTE}\4",
    ),
    # Keyword reprs: Options(webhook_signing_key='...'), Foo(password="...").
    (
        re.compile(
            rf"""(?i)(?<![\w"'])([\w]*(?:{_SECRET_PARTS})[\w]*|{_SECRET_WORDS})(=b?)(["'])(?:\\.|(?!\3).)*\3"""
        ),
        rf"\1\2\3{SUBSTITUTE}\3",
    ),
    # Form-encoded bodies and query strings: client_secret=...&client_assertion=...&code=...
    (
        re.compile(rf"(?i)(?<![\w\-.])({_PARAM_NAME})=(?![\"'])([^&\s'\"<>,;)\]}}]+)"),
        rf"\1={SUBSTITUTE}",
    ),
    # JWTs anywhere: access, id and refresh tokens, client assertions.
    (
        re.compile(r"\beyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]*"),
        SUBSTITUTE,
    ),
    # Passwords in URLs: postgres://user:password@host, redis://:password@host.
    (
        re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://[^\s:/@'\"]*:)([^\s@/'\"]+)(@)"),
        rf"\1{SUBSTITUTE}\3",
    ),
)

# Structures deeper or larger than this are scrubbed as text only (their repr), which keeps an
# error page with a huge local cheap to build; the text patterns still apply.
_MAX_DEPTH = 6
_MAX_ITEMS = 500


def secret_name(name: object) -> bool:
    """Whether a variable, key or parameter with this name holds a secret."""
    return isinstance(name, str) and bool(_SECRET_NAME.search(name.replace("-", "_")))


def _secret_parameter(name: object) -> bool:
    """A POST or GET parameter to hide: a secret name, or the OAuth authorization `code`."""
    return secret_name(name) or (isinstance(name, str) and name.lower() == "code")


@functools.lru_cache(maxsize=4)
def _with_encoded_forms(values: tuple[str, ...]) -> tuple[str, ...]:
    found: list[str] = []
    for value in values:
        found.append(value)
        for encoded in (quote_plus(value), quote(value, safe="")):
            if encoded != value:
                found.append(encoded)
    return tuple(found)


def _known_secrets() -> tuple[str, ...]:
    """Every remembered secret and token, with the encoded forms they travel in (cached per
    registry content: an error page scrubs hundreds of values)."""
    return _with_encoded_forms(crypto.known_plaintexts())


def scrub_text(text: str) -> str:
    """`text` with every secret the patterns and the registry recognise replaced."""
    for secret in _known_secrets():
        if secret in text:
            text = text.replace(secret, SUBSTITUTE)
    for pattern, replacement in _TEXT_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class _Shown:
    """A value as the error page shows it: its repr is the already scrubbed text."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _clean_structure(value: Any, depth: int) -> Any:
    """A copy of containers with secret keys hidden; other values are left for the text pass."""
    if depth > _MAX_DEPTH:
        return value
    if isinstance(value, MultiValueDict):
        if len(value) > _MAX_ITEMS:
            return value
        copy: MultiValueDict[Any, Any] = MultiValueDict()
        for key, items in value.lists():
            if secret_name(key):
                copy.setlist(key, [SUBSTITUTE])
            else:
                copy.setlist(key, [_clean_structure(item, depth + 1) for item in items])
        return copy
    if isinstance(value, Mapping):
        if len(value) > _MAX_ITEMS:
            return value
        try:
            pairs = list(value.items())
        except Exception:
            return value
        return {
            key: SUBSTITUTE if secret_name(key) else _clean_structure(item, depth + 1)
            for key, item in pairs
        }
    if isinstance(value, list | tuple | set | frozenset):
        if len(value) > _MAX_ITEMS:
            return value
        if hasattr(value, "_fields"):
            return value  # a named tuple keeps its repr; the text pass scrubs it
        items = [_clean_structure(item, depth + 1) for item in value]
        # A set of scrubbed stand-ins cannot always be rebuilt (unhashable): shown as a list.
        return tuple(items) if isinstance(value, tuple) else items
    return value


def scrub_value(value: Any) -> Any:
    """What the error page may show for `value` (pprinted, like Django does, then scrubbed)."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str) and value == SUBSTITUTE:
        return value
    return _Shown(scrub_text(pprint(_clean_structure(value, 0))))


def _scrub_parameters(values: Mapping[str, Any]) -> QueryDict:
    """POST or GET parameters: hidden by name, every other value scrubbed as text."""
    copy = QueryDict(mutable=True)
    pairs = values.lists() if isinstance(values, MultiValueDict) else values.items()
    for key, items in pairs:
        if _secret_parameter(key):
            copy.setlist(key, [SUBSTITUTE])
            continue
        listed = items if isinstance(items, list) else [items]
        copy.setlist(key, [scrub_text(i) if isinstance(i, str) else i for i in listed])
    return copy


# --- Exception messages ---------------------------------------------------------------------

# Attributes some exceptions build their message from instead of (or besides) `args`.
_MESSAGE_ATTRIBUTES = ("message", "msg", "detail", "strerror", "filename", "filename2", "reason")


def _scrub_arg(arg: Any, seen: set[int]) -> Any:
    if isinstance(arg, str):
        return scrub_text(arg)
    if isinstance(arg, BaseException):
        scrub_exception(arg, seen)
    return arg


def scrub_exception(error: BaseException | None, seen: set[int] | None = None) -> None:
    """Scrub, in place, the message of `error`, its notes and the exceptions chained to it.

    Changing the exception is safe here: it is being reported, and only secrets are removed.
    """
    seen = set() if seen is None else seen
    if error is None or id(error) in seen:
        return
    seen.add(id(error))
    try:
        args = tuple(_scrub_arg(arg, seen) for arg in error.args)
        if args != error.args:
            error.args = args
        for name in _MESSAGE_ATTRIBUTES:
            found = getattr(error, name, None)
            if isinstance(found, str) and scrub_text(found) != found:
                setattr(error, name, scrub_text(found))
        notes = getattr(error, "__notes__", None)
        if isinstance(notes, list):
            error.__notes__ = [scrub_text(str(note)) for note in notes]
        # An exception whose __str__ is its own still shows scrubbed as the page's headline.
        text = str(error)
        if scrub_text(text) != text or hasattr(error, "raw_error_message"):
            raw = getattr(error, "raw_error_message", text)
            error.raw_error_message = scrub_text(str(raw))  # type: ignore[attr-defined]
    except Exception:  # nosec B110
        pass  # an exotic exception must not break the error page itself
    for member in getattr(error, "exceptions", None) or ():
        if isinstance(member, BaseException):
            scrub_exception(member, seen)
    scrub_exception(error.__cause__, seen)
    scrub_exception(error.__context__, seen)


class SecretScrubbingFilter(SafeExceptionReporterFilter):
    """The exception reporter filter of every error page and report (see the module)."""

    def is_active(self, request: HttpRequest | None) -> bool:
        # Django's filter switches itself off with DEBUG on: exactly when the page is shown.
        return True

    def cleanse_setting(self, key: Any, value: Any) -> Any:
        cleansed = super().cleanse_setting(key, value)
        if secret_name(key):
            return SUBSTITUTE
        if isinstance(cleansed, str):
            return scrub_text(cleansed)
        return cleansed

    def get_safe_settings(self) -> dict[str, Any]:
        return super().get_safe_settings()

    def get_post_parameters(self, request: HttpRequest | None) -> Any:
        if request is None:
            return {}
        # Marked parameters are hidden by Django (is_active is always True here); the rest by
        # name and by content, whether or not the view was marked.
        return _scrub_parameters(super().get_post_parameters(request))

    def get_cleansed_multivaluedict(
        self, request: HttpRequest, multivaluedict: QueryDict
    ) -> QueryDict:
        return _scrub_parameters(super().get_cleansed_multivaluedict(request, multivaluedict))

    def get_traceback_frame_variables(self, request: Any, tb_frame: Any) -> ItemsView[str, Any]:
        shown: dict[str, Any] = {}
        for name, value in super().get_traceback_frame_variables(request, tb_frame):
            if secret_name(name) or (isinstance(value, str) and value == SUBSTITUTE):
                shown[name] = SUBSTITUTE
            else:
                shown[name] = scrub_value(value)
        return shown.items()


class SecretScrubbingReporter(ExceptionReporter):
    """Django's reporter (settings.DEFAULT_EXCEPTION_REPORTER) plus what it renders without
    asking the filter: GET parameters, the request URL and the exception message."""

    def get_traceback_data(self) -> dict[str, Any]:
        scrub_exception(self.exc_value)
        data = super().get_traceback_data()
        if self.request is not None and "request_GET_items" in data:
            data["request_GET_items"] = list(_scrub_parameters(self.request.GET).items())
        if isinstance(data.get("request_insecure_uri"), str):
            data["request_insecure_uri"] = scrub_text(data["request_insecure_uri"])
        if "exception_value" in data:
            data["exception_value"] = scrub_text(str(data["exception_value"]))
        return data


class ScrubbingLogFilter(logging.Filter):
    """Log lines (and the traceback of a logged exception) with secrets scrubbed: an unhandled
    error's message is logged by Django whether or not an error page showed it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            if record.exc_info and record.exc_info[1] is not None:
                scrub_exception(record.exc_info[1])
                record.exc_text = None  # formatted again, from the scrubbed exception
            message = record.getMessage()
            scrubbed = scrub_text(message)
            if scrubbed != message:
                record.msg, record.args = scrubbed, ()
        except Exception:  # nosec B110
            pass  # logging must never fail because of the filter
        return True


class NoStatementsFilter(logging.Filter):
    """On django.db.backends: drops its DEBUG records, each an SQL statement with the values it
    read or wrote (the session key, which is the session cookie, and any column). Dropped on
    the logger, so no handler ever receives them (tests/security/test_canary.py)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.DEBUG
