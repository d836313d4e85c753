import { describe, expect, it } from "vitest";
import { DEGRADED_SUFFIX, posture } from "../../src/core/posture.ts";

const ok = (schema: string, backendFailed = 0, queueFailed = 0) =>
  ({ schema, ok: true, backendFailed, queueFailed }) as const;
const err = (schema: string) => ({ schema, ok: false, error: "timeout" }) as const;

describe("posture", () => {
  it("unconfigured with no schemas", () => {
    const p = posture([]);
    expect(p.state).toBe("unconfigured");
    expect(p.headline).toBe("Not configured");
  });

  it("unconfigured wins over a missing backend", () => {
    expect(posture([], { backendMissing: true }).state).toBe("unconfigured");
  });

  it("missing backend is Broken", () => {
    const p = posture([ok("A")], { backendMissing: true });
    expect(p.state).toBe("missing_backend");
    expect(p.headline).toBe("Broken");
  });

  it("ok when no errors and no terminal failures", () => {
    const p = posture([ok("A"), ok("B")]);
    expect(p.state).toBe("ok");
    expect(p.headline).toBe("No fetch errors observed");
  });

  it("fetch errors degrade", () => {
    const p = posture([err("A"), err("B"), ok("C")]);
    expect(p.state).toBe("degraded");
    expect(p.headline).toBe("Degraded");
    expect(p.evidence).toEqual([`2 schema(s) report fetch errors on this check ${DEGRADED_SUFFIX}`]);
  });

  it("terminal failures summed over schemas degrade", () => {
    const p = posture([ok("A", 1, 2), ok("B", 0, 1)]);
    expect(p.state).toBe("degraded");
    expect(p.evidence).toEqual([
      `4 sync job(s) failed to apply and will not self-heal (the live index may be missing documents) ${DEGRADED_SUFFIX}`,
    ]);
  });

  it("names both causes, suffix on the last", () => {
    const p = posture([err("A"), ok("B", 0, 3)]);
    expect(p.evidence).toEqual([
      "1 schema(s) report fetch errors on this check",
      "3 sync job(s) failed to apply and will not self-heal (the live index may be missing documents) — treat as incident triage, not green. Work the failed-sync queue first.",
    ]);
  });

  it("degraded next checks in order", () => {
    const checks = posture([err("A")]).nextChecks;
    expect(checks).toHaveLength(4);
    expect(checks[0]).toMatch(/failed sync/i);
    expect(checks[1]).toMatch(/drift/i);
    expect(checks[2]).toMatch(/Meilisearch operations/);
    expect(checks[3]).toContain("mix scrypath.status");
  });
});
