"""Linux capabilities that compose services and containers are judged by alike.

`AVAILABILITY_CAPS`: capabilities(7) that let one container starve or disturb the host
(scheduling priority, memory locking, resource limits, leases, the clock, wake alarms,
reboot, suspend blocking, the TTY configuration, process accounting). CIS Docker Benchmark
5.4 asks for no added capability beyond what the application needs; lockdock reports these
besides the dangerous ones. Names are as Docker writes them, without `CAP_`.
"""

from __future__ import annotations

AVAILABILITY_CAPS = frozenset({
    "SYS_NICE", "SYS_RESOURCE", "IPC_LOCK", "LEASE", "SYS_TIME", "WAKE_ALARM", "SYS_BOOT",
    "BLOCK_SUSPEND", "SYS_TTY_CONFIG", "SYS_PACCT",
})
