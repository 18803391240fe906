"""Facts about hosts that several services check the same way."""
import ipaddress


def is_loopback_host(host: str) -> bool:
    """True for `localhost` and loopback addresses: the only places plain HTTP is tolerated."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
