"""Peak-memory readings of this process from /proc, shared by the Python bench scripts."""


def status_bytes(field):
    """A /proc/self/status field (VmRSS, VmHWM, ...) in bytes; 0 when absent."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def reset_peak_rss():
    """Resets VmHWM to the current RSS (5 > /proc/self/clear_refs)."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
