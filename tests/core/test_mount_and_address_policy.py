"""The shared mount policy and address judgement (lockdock.mountpolicy, lockdock.addresses)."""

from __future__ import annotations

import pytest

from lockdock import addresses, mountpolicy
from lockdock.model import Severity


@pytest.mark.parametrize(
    "ip", [None, "", "*", "0.0.0.0", "::", "[::]", "::0", "[::0]", "0:0:0:0:0:0:0:0", "[0000::0000]",
           "::ffff:0.0.0.0", " 0.0.0.0 "],
)
def test_every_spelling_of_the_unspecified_address_is_all_interfaces(ip):
    assert addresses.all_interfaces(ip)


@pytest.mark.parametrize("ip", ["127.0.0.1", "::1", "[::1]", "0:0:0:0:0:0:0:1", "192.168.1.4", "fe80::1%eth0",
                                "db.internal", "[::2]"])
def test_specific_addresses_are_not_all_interfaces(ip):
    assert not addresses.all_interfaces(ip)


@pytest.mark.parametrize("ip", ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "0:0:0:0:0:0:0:1", "localhost",
                                "::ffff:127.0.0.1"])
def test_loopback(ip):
    assert addresses.loopback(ip)
    assert not addresses.all_interfaces(ip)


@pytest.mark.parametrize("ip", ["0.0.0.0", "::", "10.0.0.1", "127x", "", None])
def test_not_loopback(ip):
    assert not addresses.loopback(ip)


@pytest.mark.parametrize(
    ("source", "why"),
    [("/", "root filesystem"), ("/etc", "/etc"), ("/etc/nginx/", "inside the host's /etc"),
     ("/dev/bus/usb", "inside the host's /dev"), ("/lib/modules", "/lib/modules"),
     ("/lib/modules/6.1.0", "/lib/modules"), ("/home/alice/projects", "home directory"),
     ("/home", "home directories"), ("~", "home directory"), ("~/src/app", "home directory"),
     ("/Users/bob/code", "home directory"), ("/var/lib/docker/volumes", "/var/lib/docker"),
     ("/root/.ssh", "/root"), ("/boot/efi", "/boot"), ("/sys/fs/cgroup", "/sys"),
     ("/proc/1/ns", "/proc"), ("/usr", "/usr"), ("/etc/../etc/shadow", "/etc"), ("//etc", "/etc")],
)
def test_sensitive_paths_and_subtrees(source, why):
    rw = mountpolicy.judge(source, writable=True)
    ro = mountpolicy.judge(source, writable=False)
    assert rw.kind == ro.kind == "sensitive", (source, rw)
    assert why in rw.why
    assert rw.severity is None  # the check's own severity
    assert ro.severity is Severity.MEDIUM  # read-only: one step lower, still a finding
    assert "writable" in mountpolicy.describe(rw) and "read-only" in mountpolicy.describe(ro)


@pytest.mark.parametrize("source", ["/srv/data", "/opt/app", "/usr/share/fonts", "/usr/local/bin", "/mnt/media",
                                    "/var/log/app", "/data", "./etc", "etc", "named_volume", "", None,
                                    "/homework", "/devices", "/etcetera"])
def test_ordinary_paths_are_not_sensitive(source):
    assert mountpolicy.judge(source, writable=True).kind is None


@pytest.mark.parametrize("source", ["/etc/localtime", "/etc/timezone",
                                    "/etc/ssl/certs"])
def test_public_files_read_only_are_fine_but_writable_is_not(source):
    assert mountpolicy.judge(source, writable=False).kind is None
    assert mountpolicy.judge(source, writable=True).kind == "sensitive"


@pytest.mark.parametrize("source", ["/var/run/docker.sock", "/run/containerd/containerd.sock", "/var/run",
                                    "/run/podman/podman.sock", "/run/user/1000/docker.sock"])
def test_sockets_are_their_own_check_read_only_or_not(source):
    for writable in (True, False):
        v = mountpolicy.judge(source, writable)
        assert v.kind == "socket"
