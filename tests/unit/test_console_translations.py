"""Chinese first: every message the console's templates and views can show has
its Chinese in the catalogue, and every placeholder survives translation."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from jinja2.ext import babel_extract

from hongyan.console import i18n

CONSOLE = Path(i18n.__file__).parent
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2)}


def _message_ids() -> dict[str, str]:
    """Each message id of the console, with one place it is used."""
    found: dict[str, str] = {}
    methods = [("**/templates/**.html", babel_extract), ("**.py", "python")]
    for filename, _line, message, _comments, _context in extract_from_dir(
        str(CONSOLE),
        methods,
        keywords=KEYWORDS,
        options_map={"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}},
    ):
        ids = message if isinstance(message, tuple) else (message,)
        for text in ids:
            if text:
                found.setdefault(text, filename)
    return found


def test_every_message_has_its_chinese() -> None:
    catalogue = i18n.catalogue("zh")
    ids = _message_ids()
    assert len(ids) > 40  # the extraction found the console's messages
    missing = {
        text: where
        for text, where in ids.items()
        if (found := catalogue.get(text)) is None or not found.string
    }
    assert not missing, "add these to console/translations/zh/*.po:\n" + "\n".join(
        f"  {where}: {text!r}" for text, where in sorted(missing.items(), key=lambda i: i[1])
    )


def test_placeholders_survive_translation() -> None:
    placeholder = re.compile(r"%\((\w+)\)s")
    for message in i18n.catalogue("zh"):
        if message.id and message.string:
            assert set(placeholder.findall(str(message.id))) == set(
                placeholder.findall(str(message.string))
            ), message.id


def test_a_message_has_one_chinese() -> None:
    """The same id in two page files must not say two things."""
    seen: dict[str, tuple[str, str]] = {}
    from babel.messages.pofile import read_po

    for path in sorted((i18n.TRANSLATIONS_DIR / "zh").glob("*.po")):
        with path.open("rb") as fp:
            for message in read_po(fp):
                if not message.id:
                    continue
                text = str(message.string)
                earlier = seen.setdefault(str(message.id), (text, path.name))
                assert earlier[0] == text, f"{message.id!r}: {earlier[1]} and {path.name} differ"
