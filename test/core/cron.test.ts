import { describe, expect, it } from "vitest";
import { cronProblem, isTimeZone } from "../../src/core/cron.ts";

describe("digest schedule validation", () => {
  it("reports node-cron's field error, and refuses second-level schedules", () => {
    expect(cronProblem("0 9 * * 1-5")).toBeNull();
    expect(cronProblem("0 0 9 * * *")).toBeNull();
    expect(cronProblem("61 9 * * *")).toBe("minute: 61 is a invalid expression for minute");
    expect(cronProblem("0 9 * *")).toBe("expected 5 or 6 fields but got 4");
    expect(cronProblem("*/10 * * * * *")).toMatch(/at most once a minute/);
  });

  it("knows IANA zones and refuses offsets and typos", () => {
    expect(isTimeZone("Europe/Berlin")).toBe(true);
    expect(isTimeZone("UTC")).toBe(true);
    expect(isTimeZone("Europe/Berln")).toBe(false);
    expect(isTimeZone("+05:30")).toBe(false);
    expect(isTimeZone("")).toBe(false);
  });
});

describe("time zones a digest may name", () => {
  it("refuses blank names and negative offsets as well", () => {
    expect(isTimeZone("   ")).toBe(false);
    expect(isTimeZone("-03:00")).toBe(false);
    expect(isTimeZone("America/Argentina/Buenos_Aires")).toBe(true);
  });

  it("says why a malformed expression cannot schedule a digest", () => {
    expect(cronProblem("every morning")).toEqual(expect.any(String));
    expect(cronProblem("0 9 * * MON-FRI")).toBeNull();
  });
});
