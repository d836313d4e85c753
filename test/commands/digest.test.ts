import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runSlashCommand } from "../../commands/index.ts";
import type { CommandDeps } from "../../commands/types.ts";
import { parseConfig } from "../../src/config.ts";
import { createDigestRunner } from "../../src/digest/runner.ts";
import { expectValidMessage } from "../support/blockKit.ts";
import { type TestDeployment, testDeployment } from "../support/operator.ts";

const who = { userId: "U_ME", channelId: "C_ONCALL" };

describe("/scrypath digest list | preview", () => {
  let d: TestDeployment;
  let deps: CommandDeps;
  const now = new Date("2026-11-24T07:30:00Z");

  beforeAll(async () => {
    d = await testDeployment([{ module: "MyApp.Blog.Post", alias: "posts" }]);
    const config = parseConfig(
      {
        ...d.raw,
        digests: [
          { name: "search-morning", channel: "C0DIGEST01", cron: "0 9 * * 1-5", timezone: "Europe/Berlin" },
        ],
      },
      {},
    );
    const posted: unknown[] = [];
    const runner = createDigestRunner({
      operator: d.operator,
      config,
      client: {
        chat: {
          postMessage: async (args: unknown) => {
            posted.push(args);
            return { ok: true, ts: "1.1" };
          },
        },
      },
      clock: () => now,
      instanceId: "test",
    });
    deps = { operator: d.operator, config, now: () => now, digests: runner };
  });
  afterAll(() => d?.close());

  it("lists the schedules with their next run", async () => {
    const r = await runSlashCommand("digest list", who, deps);
    expectValidMessage(r.message);
    expect(r.outcome).toBe("ok");
    const text = JSON.stringify(r.message);
    expect(text).toContain("search-morning");
    // The schema here is `posts`: the schedule's wording must not read as that name.
    expect(text).toContain("· all schemas · speaks when something changed");
    expect(text).not.toMatch(/\bposts\b/);
    // 09:00 Berlin on Tuesday 2026-11-24 is 08:00 UTC.
    expect(text).toContain(`<!date^${Date.parse("2026-11-24T08:00:00Z") / 1000}^`);
  });

  it("previews a digest without posting", async () => {
    const r = await runSlashCommand("digest preview search-morning", who, deps);
    expectValidMessage(r.message);
    expect(r.outcome).toBe("ok");
    expect(JSON.stringify(r.message)).toMatch(/nothing was posted/i);
  });

  it("answers wrong calls with usage", async () => {
    expect((await runSlashCommand("digest", who, deps)).outcome).toBe("usage");
    expect((await runSlashCommand("digest frob", who, deps)).outcome).toBe("usage");
    const unknown = await runSlashCommand("digest preview search-mornin", who, deps);
    expect(unknown.outcome).toBe("usage");
    expect(JSON.stringify(unknown.message)).toContain("search-morning");
    expect((await runSlashCommand("digest list", who, { ...deps, digests: undefined })).outcome).toBe(
      "usage",
    );
  });
});
