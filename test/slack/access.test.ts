// Who may request and confirm mutations: listed users, members of listed user groups (resolved
// with usergroups.users.list, cached briefly), deny by default, and the two-person rule.
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config.ts";
import { createLogger } from "../../src/log.ts";
import { createAccess, USERGROUP_TTL_MS } from "../../src/slack/access.ts";

function accessOf(access: Record<string, unknown>) {
  return parseConfig(
    {
      meilisearch: { url: "http://127.0.0.1:9" },
      database: { url: "postgres://bot@127.0.0.1:9/app" },
      access,
    },
    {},
  ).access;
}

function harness(
  access: Record<string, unknown>,
  members: Record<string, string[] | Error | "hang">,
  lookupTimeoutMs?: number,
) {
  let now = 1_000_000;
  const lookups: string[] = [];
  const lines: Record<string, unknown>[] = [];
  const decide = createAccess({
    access: accessOf(access),
    chat: {
      call: async <T>(method: string, args: Record<string, unknown>): Promise<T> => {
        expect(method).toBe("usergroups.users.list");
        const group = String(args.usergroup);
        lookups.push(group);
        await new Promise((r) => setTimeout(r, 5));
        const found = members[group];
        if (found === "hang") return new Promise<T>(() => {});
        if (found instanceof Error) throw found;
        return { ok: true, users: found ?? [] } as T;
      },
    },
    logger: createLogger({ write: (l) => lines.push(JSON.parse(l)) }),
    clock: () => now,
    ...(lookupTimeoutMs ? { lookupTimeoutMs } : {}),
  });
  return {
    decide: decide.decide,
    lookups,
    lines,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

describe("access for mutations from Slack", () => {
  it("denies everyone, saying how to configure operators, when none are configured", async () => {
    const h = harness({}, {});
    expect(await h.decide("U0ALICE001")).toMatchObject({
      allowed: false,
      reason: "no_operators_configured",
      message: expect.stringContaining("access.operators.users"),
    });
    expect(h.lookups).toEqual([]);
  });

  it("allows listed users without asking Slack, and refuses others", async () => {
    const h = harness({ operators: { users: ["U0ALICE001"] } }, {});
    expect(await h.decide("U0ALICE001")).toEqual({ allowed: true });
    expect(await h.decide("U0DAVE0004")).toMatchObject({ allowed: false, reason: "not_an_operator" });
    expect(h.lookups).toEqual([]);
  });

  it("resolves user-group members once per TTL, sharing one lookup between concurrent decisions", async () => {
    const h = harness({ operators: { usergroups: ["S0OPS00001"] } }, { S0OPS00001: ["U0CAROL003"] });
    const [a, b] = await Promise.all([h.decide("U0CAROL003"), h.decide("U0DAVE0004")]);
    expect(a).toEqual({ allowed: true });
    expect(b).toMatchObject({ reason: "not_an_operator" });
    expect(await h.decide("U0CAROL003")).toEqual({ allowed: true });
    expect(h.lookups).toEqual(["S0OPS00001"]);
    h.advance(USERGROUP_TTL_MS + 1);
    await h.decide("U0CAROL003");
    expect(h.lookups).toEqual(["S0OPS00001", "S0OPS00001"]);
  });

  it("logs a failed lookup and refuses as 'could not check' whoever it might hold; the next decision asks again", async () => {
    const h = harness(
      { operators: { users: ["U0ALICE001"], usergroups: ["S0OPS00001", "S0BROKEN01"] } },
      { S0OPS00001: ["U0CAROL003"], S0BROKEN01: new Error("ratelimited") },
    );
    expect(await h.decide("U0CAROL003")).toEqual({ allowed: true });
    expect(await h.decide("U0ERIN0005")).toMatchObject({ allowed: false, reason: "membership_unknown" });
    expect(h.lines.filter((l) => l.usergroup === "S0BROKEN01" && l.level === "warn")).toHaveLength(2);
    expect(h.lookups.filter((g) => g === "S0BROKEN01")).toHaveLength(2);
    expect(h.lookups.filter((g) => g === "S0OPS00001")).toHaveLength(1);
  });

  it("keeps to the two-person rule for confirmations only", async () => {
    const h = harness({ operators: { users: ["U0ALICE001", "U0BOB00002"] }, twoPersonRule: true }, {});
    expect(await h.decide("U0ALICE001")).toEqual({ allowed: true });
    expect(await h.decide("U0ALICE001", { requestedBy: "U0ALICE001" })).toMatchObject({
      allowed: false,
      reason: "two_person_rule",
    });
    expect(await h.decide("U0BOB00002", { requestedBy: "U0ALICE001" })).toEqual({ allowed: true });
  });

  it("bounds every lookup of a decision together: a group that never answers costs one timeout", async () => {
    const h = harness(
      { operators: { usergroups: ["S0OPS00001", "S0HANG0001", "S0HANG0002"] } },
      { S0OPS00001: ["U0CAROL003"], S0HANG0001: "hang", S0HANG0002: "hang" },
      300,
    );
    const started = Date.now();
    const decision = await h.decide("U0ERIN0005");
    const took = Date.now() - started;
    expect(decision).toMatchObject({ allowed: false, reason: "membership_unknown" });
    expect(took).toBeGreaterThanOrEqual(290);
    expect(took).toBeLessThan(1_500);
    expect(h.lines.filter((l) => l.level === "warn")).toHaveLength(2);
  });
});
