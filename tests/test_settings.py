"""Settings read from the environment the way the README documents them."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from reelhouse.net.fetch import AddressPolicy, BlockedAddressError
from reelhouse.settings import Settings


@pytest.mark.parametrize(
    ("value", "networks"),
    [
        ("127.0.0.2/32,10.1.0.0/16", ["127.0.0.2/32", "10.1.0.0/16"]),  # the README's form
        (" 10.1.0.0/16 , fd00::/8 ,", ["10.1.0.0/16", "fd00::/8"]),
        ("10.0.0.0/8", ["10.0.0.0/8"]),
        ("192.168.1.20", ["192.168.1.20"]),
        ('["10.0.0.0/8", "fd00::/8"]', ["10.0.0.0/8", "fd00::/8"]),
        ("", []),
    ],
)
def test_allowed_networks_from_environment(monkeypatch: pytest.MonkeyPatch, value: str, networks: list[str]) -> None:
    """pydantic-settings would JSON-decode a list field, so every form but a JSON list used to stop start-up."""
    monkeypatch.setenv("REELHOUSE_ALLOWED_NETWORKS", value)
    assert Settings().allowed_networks == networks


def test_allowed_networks_open_the_address_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REELHOUSE_ALLOWED_NETWORKS", "127.0.0.2/32,10.1.0.0/16")
    policy = AddressPolicy.of(Settings())
    policy.check_ip("10.1.200.3")
    policy.check_ip("127.0.0.2")
    with pytest.raises(BlockedAddressError):
        policy.check_ip("10.2.0.1")


@pytest.mark.parametrize("value", ["10.0.0.0/33", "10.0.0.0/8,nas.local", '["10.0.0.0/8"', '["999.0.0.0/8"]'])
def test_invalid_allowed_networks_name_the_setting(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("REELHOUSE_ALLOWED_NETWORKS", value)
    with pytest.raises(ValidationError, match="REELHOUSE_ALLOWED_NETWORKS"):
        Settings()
