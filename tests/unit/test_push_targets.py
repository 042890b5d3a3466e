import ipaddress

import pytest

from hongyan.push.targets import RefusedTarget, approved_addresses, is_public, parse_target


def fixed(*answers: str):  # type: ignore[no-untyped-def]
    async def resolve(host: str, port: int) -> list[str]:
        return list(answers)

    return resolve


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "224.0.0.1",
        "0.0.0.0",
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",
        "198.18.0.1",
    ],
)
def test_non_public_addresses(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["8.8.8.8", "203.0.114.1", "2606:4700:4700::1111"])
def test_public_addresses(address: str) -> None:
    assert is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/",
        "file:///etc/passwd",
        "http:///x",
        "http://u:p@example.com/",
        "http://example.com:port/",
        "javascript:alert(1)",
        "http://example.com/cb#part",  # the query would land inside the fragment
        "http://exa mple.com/cb",
        "http://example.com/c b",
    ],
)
def test_only_http_urls_with_a_host(url: str) -> None:
    with pytest.raises(RefusedTarget):
        parse_target(url)


def test_ports_default_by_scheme() -> None:
    assert parse_target("https://example.com/cb") == ("example.com", 443)
    assert parse_target("http://example.com:8081/cb?x=1") == ("example.com", 8081)


async def test_every_resolved_address_must_be_public() -> None:
    public = await approved_addresses("http://example.com/", resolve=fixed("93.184.216.34"))
    assert public == [ipaddress.ip_address("93.184.216.34")]
    # One private answer among public ones is enough to refuse (DNS rebinding).
    with pytest.raises(RefusedTarget, match="not a public address"):
        await approved_addresses("http://example.com/", resolve=fixed("93.184.216.34", "10.0.0.1"))
    with pytest.raises(RefusedTarget):
        await approved_addresses("http://169.254.169.254/latest/meta-data/")
    with pytest.raises(RefusedTarget):
        await approved_addresses("http://[::1]:8080/")


async def test_the_operator_may_allow_a_range() -> None:
    allowed = [ipaddress.ip_network("127.0.0.0/8")]
    approved = await approved_addresses("http://127.0.0.1:9000/cb", allowed)
    assert approved == [ipaddress.ip_address("127.0.0.1")]


async def test_unresolvable_hosts_are_refused() -> None:
    async def fail(host: str, port: int) -> list[str]:
        raise OSError(-2, "Name or service not known")

    with pytest.raises(RefusedTarget, match="cannot resolve"):
        await approved_addresses("http://nowhere.invalid/", resolve=fail)
