import pytest

from hongyan.config import load_settings
from hongyan.core.models import Claimed
from hongyan.dispatch.routing import Router, RouteSettings, carrier_of
from hongyan.errors import ConfigError


def message(mobile: str, uid: str = "acme") -> Claimed:
    return Claimed(1, 1, uid, mobile, "x", "0001", 1, 1, 0, frozenset())


@pytest.mark.parametrize(
    ("mobile", "carrier"),
    [
        ("13900008888", "china_mobile"),
        ("18612345678", "china_unicom"),
        ("18912345678", "china_telecom"),
        ("02185418874", ""),
    ],
)
def test_carrier_of_a_number(mobile: str, carrier: str) -> None:
    assert carrier_of(mobile) == carrier


def test_first_matching_route_wins_else_the_fallback() -> None:
    router = Router(
        "sim",
        [
            RouteSettings(channel="vip", accounts=("bank",)),
            RouteSettings(channel="cmcc", carriers=("china_mobile",)),
            RouteSettings(channel="cu", carriers=("china_unicom",), accounts=("acme",)),
        ],
    )
    assert router.route(message("13900008888", uid="bank")) == "vip"
    assert router.route(message("13900008888")) == "cmcc"
    assert router.route(message("18612345678")) == "cu"
    assert router.route(message("18612345678", uid="other")) == "sim"
    assert router.route(message("02185418874")) == "sim"


def test_routes_must_name_configured_channels(tmp_path: object) -> None:
    with pytest.raises(ConfigError, match="no channel named 'nowhere'"):
        load_settings(None, secret="s", routes=[{"channel": "nowhere"}])
    with pytest.raises(ConfigError, match="must differ"):
        load_settings(None, secret="s", channels=[{"name": "simulator"}])
    ok = load_settings(
        None,
        secret="s",
        channels=[{"name": "cu"}],
        routes=[{"channel": "cu"}],
        fallback_channel="cu",
    )
    assert ok.routes[0].channel == "cu"
