"""`make demo`: a simulated Friday-to-Saturday against the local AWS stand-in.

Starts moto and `cargo lambda watch`, launches instances with different tags, then invokes the real
`ec2-autostop` function once per simulated hour (as the hourly schedule would) and prints which
instance runs at which hour and what the function did, read back from moto.
"""

from __future__ import annotations

import sys
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from harness import ROOT, Moto, Watch, auto_scaling_group, launch, states  # noqa: E402

SEOUL = ZoneInfo("Asia/Seoul")
START = datetime(2026, 11, 27, 6, 0, tzinfo=SEOUL)  # Friday 06:00
HOURS = 30  # through Saturday 11:00

# name → (tags, state at the start)
FLEET: dict[str, tuple[dict[str, str], str]] = {
    "web-dev": ({"DAY": "월-금", "TIME": "9~18"}, "running"),
    "berlin-api": ({"DAY": "mon-fri", "TIME": "09:00~17:30", "TZ": "Europe/Berlin"}, "stopped"),
    "night-batch": ({"DAY": "금", "TIME": "22~2"}, "stopped"),
    "weekend-lab": ({"DAY": "weekends", "TIME": "10~16"}, "stopped"),
    "late-worker": ({"DAY": "평일", "TIME": "9~18", "AUTOSTOP_HOLD_UNTIL": "2026-11-27T21:00:00+09:00"}, "running"),
    "holiday-box": ({"DAY": "daily", "TIME": "9~18", "AUTOSTOP_SKIP_DATES": "2026-11-27"}, "running"),
    "guarded-db": ({"TIME": "9~18", "AUTOSTOP_MODE": "stop-only"}, "stopped"),
    "broken-tags": ({"TIME": "9 to 6"}, "running"),
}
UNMANAGED = "not-managed"  # no AUTOSTOP_ENABLE tag: must never be touched


def main() -> None:
    log_dir = ROOT / ".local" / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    print("Starting the local AWS stand-in (moto) and the functions (cargo lambda watch)...")
    moto = Moto(log_dir)
    watch = Watch(moto, log_dir)
    try:
        run(moto, watch)
    finally:
        watch.stop()
        moto.stop()


def run(moto: Moto, watch: Watch) -> None:
    ec2 = moto.client("ec2")
    ids: dict[str, str] = {}
    for name, (tags, state) in FLEET.items():
        ids[name] = launch(ec2, {"AUTOSTOP_ENABLE": "true", "Name": name, **tags}, state=state)[0]
    ids[UNMANAGED] = launch(ec2, {"Name": UNMANAGED, "TIME": "9~18"})[0]
    ids["asg-member"] = auto_scaling_group(
        moto, ec2, "demo-asg", {"AUTOSTOP_ENABLE": "true", "TIME": "9~18", "Name": "asg-member"}
    )[0]
    names = {v: k for k, v in ids.items()}

    print("\nThe fleet (tags besides AUTOSTOP_ENABLE=true; the default zone is Asia/Seoul):")
    for name, (tags, state) in FLEET.items():
        print(f"  {name:<12} {state:<8} " + "  ".join(f"{k}={v}" for k, v in tags.items()))
    print(f"  {'asg-member':<12} {'running':<8} TIME=9~18, in Auto Scaling group demo-asg")
    print(f"  {UNMANAGED:<12} {'running':<8} TIME=9~18, but no AUTOSTOP_ENABLE tag")

    print("\nFirst invocation compiles the function if needed (up to a few minutes the first time)...")
    columns = list(ids)
    width = max(len(c) for c in columns) + 1
    print("\nSimulated hours, Asia/Seoul time. ● running  · stopped  ▲ started  ▼ stopped by the function\n")
    print(f"{'':<16}" + "".join(f"{c[:width - 1]:>{width}}" for c in columns))
    events: list[str] = []
    skipped: dict[str, str] = {}
    totals = {"started": 0, "stopped": 0}
    for hour in range(HOURS):
        now = START + timedelta(hours=hour)
        report = watch.invoke("ec2-autostop", {"time": now.isoformat()})
        acted = {}
        for key, mark in (("started", "▲"), ("stopped", "▼")):
            for item in report[key]:
                acted[item["instanceId"]] = mark
                totals[key] += 1
                events.append(f"  {now:%a %H:%M}  {key:<8} {names[item['instanceId']]:<12} {item['reason']}")
        for item in report["skipped"]:
            skipped[names[item["instanceId"]]] = item["reason"]
        current = states(ec2)
        cells = [acted.get(ids[c], "●" if current[ids[c]] == "running" else "·") for c in columns]
        print(f"{now:%a %m-%d %H:%M}  " + "".join(f"{cell:>{width}}" for cell in cells))

    print("\nWhat the function did, and why:")
    print("\n".join(events))
    print("\nSkipped every hour (the report says why; nothing is touched):")
    for name, reason in skipped.items():
        print(f"  {name:<12} {reason}")
    print(f"\nguarded-db stayed stopped in its window: AUTOSTOP_MODE=stop-only never starts it.")
    print(f"{UNMANAGED} was never touched: it has no AUTOSTOP_ENABLE=true tag.")
    print(f"\n{HOURS} hourly runs: {totals['started']} starts, {totals['stopped']} stops.")
    print("Try it yourself: cargo lambda watch, then cargo lambda invoke ec2-autostop --data-file events/ec2-autostop-now.json")


if __name__ == "__main__":
    main()
