"""The operator console's Chinese: every message of the pages translated so
far has its Chinese in admin/translations/zh, and placeholders survive.

Only the files in TRANSLATED are held to it: a page whose strings are not
translated yet is added here with its Chinese."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po
from jinja2.ext import babel_extract

from hongyan.admin import i18n

ADMIN = Path(i18n.__file__).parent
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2)}
TRANSLATED = (
    "templates/base.html",
    "templates/macros.html",
    "templates/error.html",
    "templates/forbidden.html",
    "templates/sign_in.html",
    "templates/me.html",
    "templates/operators.html",
    "templates/audit.html",
    "templates/finance.html",
    "templates/accounts.html",
    "templates/account_new.html",
    "templates/account.html",
    "templates/account_money.html",
    "templates/account_settings.html",
    "templates/messages.html",
    "templates/message_life.html",
    "templates/message_badges.html",
    "templates/channels.html",
    "templates/system.html",
    "pages/sign_in.py",
    "pages/me.py",
    "pages/operators.py",
    "pages/audit.py",
    "pages/finance.py",
    "pages/accounts.py",
    "pages/account.py",
    "pages/account_push.py",
    "pages/messages.py",
    "pages/channels.py",
    "pages/system.py",
)


def message_ids(name: str) -> list[str]:
    path = ADMIN / name
    if name.endswith(".html"):
        found = extract_from_file(
            babel_extract, str(path), KEYWORDS, options={"extensions": "jinja2.ext.i18n"}
        )
    else:
        found = extract_from_file("python", str(path), KEYWORDS)
    ids: list[str] = []
    for _line, message, _comments, _context in found:
        # A plural's catalogue entry is keyed by its singular.
        text = message[0] if isinstance(message, tuple) else message
        if text:
            ids.append(text)
    return ids


@pytest.mark.parametrize("name", TRANSLATED)
def test_every_message_of_a_translated_page_has_its_chinese(name: str) -> None:
    catalogue = i18n.catalogue("zh")
    ids = message_ids(name)
    missing = [text for text in ids if (found := catalogue.get(text)) is None or not found.string]
    assert not missing, f"add to admin/translations/zh/*.po ({name}):\n" + "\n".join(
        f"  {text!r}" for text in missing
    )


def test_the_pages_have_messages_to_translate() -> None:
    assert sum(len(message_ids(name)) for name in TRANSLATED) > 100


def test_placeholders_survive_translation() -> None:
    placeholder = re.compile(r"%\((\w+)\)[sd]")
    for message in i18n.catalogue("zh"):
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for text in strings:
            assert set(placeholder.findall(str(text))) == set(placeholder.findall(str(ids[0]))), (
                message.id
            )


def test_a_message_has_one_chinese() -> None:
    seen: dict[str, tuple[str, str]] = {}
    for path in sorted((i18n.TRANSLATIONS_DIR / "zh").glob("*.po")):
        with path.open("rb") as fp:
            for message in read_po(fp):
                if message.id:
                    text = str(message.string)
                    earlier = seen.setdefault(str(message.id), (text, path.name))
                    assert earlier[0] == text, f"{message.id!r}: {earlier[1]}, {path.name}"
