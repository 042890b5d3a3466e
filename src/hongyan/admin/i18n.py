"""Languages of the operator console: English by default (`[admin]
default_language`), Chinese by the switch in the sidebar (a cookie), as the
customer console chooses its own.

Templates and views are written with English message ids; the Chinese is a
set of `.po` files under `translations/zh/`, read at start-up as the
customer console's are (console/i18n.py: no compile step).
"""

from __future__ import annotations

import gettext
import io
from functools import cache
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from hongyan.console.i18n import LANGUAGES, LOCALES

__all__ = ["LANGUAGES", "LOCALES", "TRANSLATIONS_DIR", "catalogue", "translations"]

TRANSLATIONS_DIR = Path(__file__).parent / "translations"


def catalogue(language: str) -> Catalog:
    """Every message of `language`'s `.po` files, merged into one catalogue."""
    merged = Catalog(locale=LOCALES[language])
    for path in sorted((TRANSLATIONS_DIR / language).glob("*.po")):
        with path.open("rb") as fp:
            for message in read_po(fp, locale=LOCALES[language]):
                if message.id and message.string and message.id not in merged:
                    merged[message.id] = message
    return merged


@cache
def translations(language: str) -> gettext.NullTranslations:
    if language not in LANGUAGES or not (TRANSLATIONS_DIR / language).is_dir():
        return gettext.NullTranslations()
    buffer = io.BytesIO()
    write_mo(buffer, catalogue(language))
    buffer.seek(0)
    return Translations(buffer)
