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
        "64:ff9b::7f00:1",  # NAT64 (RFC 6052) of 127.0.0.1
        "64:ff9b::808:808",  # NAT64 of a public address: refused all the same
        "64:ff9b:1::a00:1",  # local-use NAT64 (RFC 8215)
        "::7f00:1",  # IPv4-compatible
    ],
)
def test_non_public_addresses(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "address",
    [
        "2002:7f00:1::1",  # 6to4 (RFC 3056) of 127.0.0.1
        "2002:a00:1::1",  # of 10.0.0.1
        "2002:c0a8:101::1",  # of 192.168.1.1
        "2002:a9fe:a9fe::",  # of 169.254.169.254, cloud metadata
        "2002:6440:1::1",  # of 100.64.0.1, shared address space
        "2002:808:808::1",  # of 8.8.8.8: refused too (targets.py says why)
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo (RFC 4380), public embeddings
        "2001:0:7f00:1:8000:ffff:80ff:fffe",  # Teredo: server 127.0.0.1, client 127.0.0.1
        "2001::1",
        "fec0::1",  # site-local (RFC 3879)
        "feff:ffff::1",
        "3fff::1",  # documentation (RFC 9637)
    ],
)
def test_ipv6_transition_and_site_local_addresses_are_not_public(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))


async def test_a_name_answering_a_6to4_or_teredo_address_is_refused() -> None:
    for answer in ("2002:a00:1::1", "2001:0:4136:e378:8000:63bf:3fff:fdd2", "fec0::1"):
        with pytest.raises(RefusedTarget, match="not a public address"):
            await approved_addresses("http://example.com/", resolve=fixed(answer))
        with pytest.raises(RefusedTarget, match="not a public address"):
            await approved_addresses(f"http://[{answer}]:8080/cb")


async def never_resolve(host: str, port: int) -> list[str]:
    raise AssertionError(f"{host} looked up: an address needs no lookup")


@pytest.mark.parametrize(
    "host",
    ["2130706433", "0x7f000001", "017700000001", "0177.0.0.1", "127.1", "0x7f.1", "0xa9fea9fe"],
)
async def test_decimal_hex_octal_and_short_ipv4_are_read_as_addresses(host: str) -> None:
    with pytest.raises(RefusedTarget, match="not a public address"):
        await approved_addresses(f"http://{host}/cb", resolve=never_resolve)
    decimal_of_8_8_8_8 = "134744072"
    approved = await approved_addresses(f"http://{decimal_of_8_8_8_8}/", resolve=never_resolve)
    assert approved == [ipaddress.ip_address("8.8.8.8")]


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "203.0.114.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"]
)
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
