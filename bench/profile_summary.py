#!/usr/bin/env python3
"""Sums a chrome trace from `bench_unet --profile FILE` (libtorch's legacy profiler) by op name.

Self time per op: an event's duration minus the events nested in it on the same thread, so nested
aten calls are not counted twice. Prints the top ops with their share of the traced step.
usage: bench/profile_summary.py TRACE.json [--top N]
"""
import argparse
import collections
import json


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("trace")
    ap.add_argument("--top", type=int, default=25)
    a = ap.parse_args()
    with open(a.trace) as f:
        events = json.load(f)
    if isinstance(events, dict):
        events = events.get("traceEvents", [])
    by_thread = collections.defaultdict(list)
    for e in events:
        if e.get("ph") == "X" and "dur" in e:
            by_thread[e.get("tid")].append((float(e["ts"]), float(e["dur"]), e["name"]))
    self_us = collections.Counter()
    calls = collections.Counter()
    total = 0.0
    for evs in by_thread.values():
        evs.sort(key=lambda t: (t[0], -t[1]))
        stack = []  # [end, name, child_time]
        def close(item):
            end, name, dur, child = item
            self_us[name] += dur - child
        for ts, dur, name in evs:
            while stack and ts >= stack[-1][0]:
                close(stack.pop())
            if stack:
                stack[-1][3] += dur
            else:
                total += dur
            calls[name] += 1
            stack.append([ts + dur, name, dur, 0.0])
        while stack:
            close(stack.pop())
    print(f"traced top-level time {total / 1e3:.0f} ms")
    for name, us in self_us.most_common(a.top):
        print(f"{us / 1e3:9.1f} ms {100 * us / total:5.1f} %  {calls[name]:6d}x  {name}")


if __name__ == "__main__":
    main()
