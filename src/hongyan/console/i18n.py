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


def load_catalogue(folder: Path, language: str) -> Catalog:
    """Every message of `language`'s `.po` files under `folder/<language>/`,
    merged into one catalogue (the first file, by name, wins a repeated id)."""
    merged = Catalog(locale=LOCALES[language])
    for path in sorted((folder / language).glob("*.po")):
        with path.open("rb") as fp:
            for message in read_po(fp, locale=LOCALES[language]):
                if message.id and message.string and message.id not in merged:
                    merged[message.id] = message
    return merged


@cache
def load_translations(folder: Path, language: str) -> gettext.NullTranslations:
    """`language`'s catalogue under `folder`, for gettext (no catalogue: none)."""
    if language not in LANGUAGES or not (folder / language).is_dir():
        return gettext.NullTranslations()
    buffer = io.BytesIO()
    write_mo(buffer, load_catalogue(folder, language))
    buffer.seek(0)
    return Translations(buffer)


def catalogue(language: str) -> Catalog:
    """Every message of the console's `.po` files of `language`."""
    return load_catalogue(TRANSLATIONS_DIR, language)


def translations(language: str) -> gettext.NullTranslations:
    return load_translations(TRANSLATIONS_DIR, language)
