"""Languages of the console: Chinese by default, English by a switch.

Templates and views are written with English message ids (gettext's
convention); the Chinese catalogue is a set of `.po` files under
`translations/zh/`, one per page, read at start-up (no compile step: Babel
reads `.po` and writes the `.mo` a `Translations` wants in memory). A test
checks that every message id in the templates and views has its Chinese.
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

LANGUAGES = ("zh", "en")
# Babel's locale of each language: number and date formats.
LOCALES = {"zh": "zh_Hans_CN", "en": "en_US"}
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
