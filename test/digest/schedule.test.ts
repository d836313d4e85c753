// Slot arithmetic with an injected "now": time zones, DST gaps and overlaps, the look-back window.
import cron from "node-cron";
import { describe, expect, it } from "vitest";
import { latestSlot, nextSlot, slotKey } from "../../src/digest/schedule.ts";

const at = (iso: string) => new Date(iso);
const slot = (s: { at: Date; key: string } | null) => (s ? { at: s.at.toISOString(), key: s.key } : null);

describe("latestSlot and nextSlot", () => {
  it("reads weekday mornings in the digest's zone (Europe/Berlin, winter and summer)", () => {
    const d = { cron: "0 9 * * 1-5", timezone: "Europe/Berlin" };
    // Friday 2026-11-20 09:00 CET is 08:00 UTC.
    expect(slot(latestSlot(d, at("2026-11-20T08:00:00Z")))).toEqual({
      at: "2026-11-20T08:00:00.000Z",
      key: "2026-11-20T09:00 Europe/Berlin",
    });
    // One millisecond earlier, the latest is Thursday's.
    expect(latestSlot(d, at("2026-11-20T07:59:59.999Z"))?.key).toBe("2026-11-19T09:00 Europe/Berlin");
    // Saturday and Sunday have none: Monday morning still sees Friday's.
    expect(latestSlot(d, at("2026-11-23T07:00:00Z"))?.key).toBe("2026-11-20T09:00 Europe/Berlin");
    expect(slot(nextSlot(d, at("2026-11-20T08:00:00Z")))).toEqual({
      at: "2026-11-23T08:00:00.000Z",
      key: "2026-11-23T09:00 Europe/Berlin",
    });
    // Summer time: 09:00 CEST is 07:00 UTC.
    expect(latestSlot(d, at("2026-07-01T07:30:00Z"))?.at.toISOString()).toBe("2026-07-01T07:00:00.000Z");
  });

  it("skips a wall time that does not exist on the spring-forward day (Berlin, 2026-03-29)", () => {
    const d = { cron: "30 2 * * *", timezone: "Europe/Berlin" };
    // 02:00 → 03:00 local at 01:00 UTC: there is no 02:30 that night.
    expect(latestSlot(d, at("2026-03-29T06:00:00Z"))?.key).toBe("2026-03-28T02:30 Europe/Berlin");
    expect(slot(nextSlot(d, at("2026-03-28T12:00:00Z")))).toEqual({
      at: "2026-03-30T00:30:00.000Z",
      key: "2026-03-30T02:30 Europe/Berlin",
    });
    // Slots around the gap keep their wall times, with the new offset after it.
    const hourly = { cron: "0 * * * *", timezone: "Europe/Berlin" };
    expect(slot(nextSlot(hourly, at("2026-03-29T00:30:00Z")))).toEqual({
      at: "2026-03-29T01:00:00.000Z",
      key: "2026-03-29T03:00 Europe/Berlin",
    });
    expect(latestSlot(hourly, at("2026-03-29T00:59:00Z"))?.key).toBe("2026-03-29T01:00 Europe/Berlin");
    // node-cron's own scheduler agrees: no instant of that night reads as 02:30.
    const task = cron.createTask("30 2 * * *", () => {}, { timezone: "Europe/Berlin" });
    void task.destroy();
    const night = Array.from({ length: 240 }, (_, i) => new Date(Date.UTC(2026, 2, 28, 22) + i * 60_000));
    expect(night.filter((t) => task.match(t))).toEqual([]);
  });

  it("makes the repeated hour on the fall-back day ONE slot per wall time (Berlin, 2026-10-25)", () => {
    const d = { cron: "30 2 * * *", timezone: "Europe/Berlin" };
    const first = { at: "2026-10-25T00:30:00.000Z", key: "2026-10-25T02:30 Europe/Berlin" };
    // 02:30 happens at 00:30 UTC (CEST) and again at 01:30 UTC (CET): both read as the same slot.
    expect(slot(latestSlot(d, at("2026-10-25T00:30:00Z")))).toEqual(first);
    expect(slot(latestSlot(d, at("2026-10-25T01:30:00Z")))).toEqual(first);
    expect(slot(latestSlot(d, at("2026-10-25T01:59:00Z")))).toEqual(first);
    // The next slot after the first occurrence is the next day, not the repeat.
    expect(nextSlot(d, at("2026-10-25T00:31:00Z"))?.key).toBe("2026-10-26T02:30 Europe/Berlin");
    expect(nextSlot(d, at("2026-10-25T00:29:00Z"))?.at.toISOString()).toBe(first.at);

    const halfHourly = { cron: "*/30 * * * *", timezone: "Europe/Berlin" };
    const keys = ["00:59", "01:00", "01:29", "01:31", "02:00"].map(
      (t) => latestSlot(halfHourly, at(`2026-10-25T${t}:00Z`))?.key,
    );
    expect(keys).toEqual([
      "2026-10-25T02:30 Europe/Berlin",
      "2026-10-25T02:30 Europe/Berlin",
      "2026-10-25T02:30 Europe/Berlin",
      "2026-10-25T02:30 Europe/Berlin",
      "2026-10-25T03:00 Europe/Berlin",
    ]);
    expect(nextSlot(halfHourly, at("2026-10-25T00:45:00Z"))?.key).toBe("2026-10-25T03:00 Europe/Berlin");
  });

  it("handles America/New_York around both transitions", () => {
    const d = { cron: "0 9 * * 1-5", timezone: "America/New_York" };
    // Friday before the change: 09:00 EST = 14:00 UTC; Monday after: 09:00 EDT = 13:00 UTC.
    expect(latestSlot(d, at("2026-03-09T12:00:00Z"))?.at.toISOString()).toBe("2026-03-06T14:00:00.000Z");
    expect(slot(nextSlot(d, at("2026-03-07T12:00:00Z")))).toEqual({
      at: "2026-03-09T13:00:00.000Z",
      key: "2026-03-09T09:00 America/New_York",
    });
    // 01:30 happens twice on 2026-11-01 (EDT, then EST): one slot, at the first.
    const night = { cron: "30 1 * * *", timezone: "America/New_York" };
    expect(slot(latestSlot(night, at("2026-11-01T06:45:00Z")))).toEqual({
      at: "2026-11-01T05:30:00.000Z",
      key: "2026-11-01T01:30 America/New_York",
    });
    // 02:30 does not exist on 2026-03-08.
    expect(
      nextSlot({ cron: "30 2 * * *", timezone: "America/New_York" }, at("2026-03-08T05:00:00Z"))?.key,
    ).toBe("2026-03-09T02:30 America/New_York");
  });

  it("handles a 30-minute offset zone (Asia/Kolkata, UTC+05:30)", () => {
    const d = { cron: "0 9 * * *", timezone: "Asia/Kolkata" };
    expect(slot(nextSlot(d, at("2026-11-20T00:00:00Z")))).toEqual({
      at: "2026-11-20T03:30:00.000Z",
      key: "2026-11-20T09:00 Asia/Kolkata",
    });
    // 23:45 IST on the 19th is 18:15 UTC: the local date differs from the UTC one.
    const late = { cron: "45 23 * * *", timezone: "Asia/Kolkata" };
    expect(slot(latestSlot(late, at("2026-11-20T00:00:00Z")))).toEqual({
      at: "2026-11-19T18:15:00.000Z",
      key: "2026-11-19T23:45 Asia/Kolkata",
    });
  });

  it("looks back at most eight days and ahead at most about a year", () => {
    expect(latestSlot({ cron: "0 9 1 1 *", timezone: "UTC" }, at("2026-11-20T00:00:00Z"))).toBeNull();
    expect(latestSlot({ cron: "0 9 13 11 *", timezone: "UTC" }, at("2026-11-20T00:00:00Z"))?.key).toBe(
      "2026-11-13T09:00 UTC",
    );
    expect(nextSlot({ cron: "0 0 29 2 *", timezone: "UTC" }, at("2026-03-01T00:00:00Z"))).toBeNull();
    expect(nextSlot({ cron: "0 0 1 1 *", timezone: "UTC" }, at("2026-03-01T00:00:00Z"))?.key).toBe(
      "2027-01-01T00:00 UTC",
    );
  });

  it("stays fast for every-minute schedules on a DST day", () => {
    const d = { cron: "* * * * *", timezone: "Europe/Berlin" };
    const started = performance.now();
    for (let i = 0; i < 50; i++) latestSlot(d, at("2026-10-24T23:58:00Z"));
    expect(latestSlot(d, at("2026-10-24T23:58:30Z"))?.key).toBe("2026-10-25T01:58 Europe/Berlin");
    expect(performance.now() - started).toBeLessThan(2000);
  });
});

describe("validation helpers", () => {
  it("keys a slot by its local wall time and zone", () => {
    expect(slotKey(at("2026-11-20T03:30:00Z"), "Asia/Kolkata")).toBe("2026-11-20T09:00 Asia/Kolkata");
  });
});
