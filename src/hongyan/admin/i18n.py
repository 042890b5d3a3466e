"""Languages of the operator console: English by default (`[admin]
default_language`), Chinese by the switch in the sidebar (a cookie), as the
customer console chooses its own.

Templates and views are written with English message ids; the Chinese is a
set of `.po` files under `translations/zh/`, read at start-up as the
customer console's are (console/i18n.py: no compile step).
"""

from __future__ import annotations

import gettext
from pathlib import Path

from babel.messages.catalog import Catalog

from hongyan.console.i18n import LANGUAGES, LOCALES, load_catalogue, load_translations

__all__ = ["LANGUAGES", "LOCALES", "TRANSLATIONS_DIR", "catalogue", "translations"]

TRANSLATIONS_DIR = Path(__file__).parent / "translations"


def catalogue(language: str) -> Catalog:
    """Every message of the operator console's `.po` files of `language`."""
    return load_catalogue(TRANSLATIONS_DIR, language)


def translations(language: str) -> gettext.NullTranslations:
    return load_translations(TRANSLATIONS_DIR, language)
