// `scrypath-bot watches`: the alert subscriptions, read only, over the real Postgres: the
// configuration file's and those made with /scrypath watch, each saying where it came from.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { runCaptured } from "../support/cli.ts";
import { type TestDeployment, testDeployment } from "../support/operator.ts";
import { POST, postsSchema } from "../support/posts.ts";

describe("scrypath-bot watches", () => {
  let d: TestDeployment;
  let dir: string;
  let configFile: string;

  const cli = async (argv: string[]) => {
    const { code, stdout, stderr } = await runCaptured(argv, {
      env: { SCRYPATH_BOT_CONFIG: configFile },
    });
    return { code, lines: stdout.replace(/\n$/, "").split("\n"), stdout, stderr };
  };

  beforeAll(async () => {
    d = await testDeployment([postsSchema()]);
    dir = mkdtempSync(join(tmpdir(), "scrypath-watches-"));
    configFile = join(dir, "bot.yml");
    writeFileSync(
      configFile,
      stringify({ ...d.raw, alerts: { subscriptions: [{ channel: "C0ONCALL01", schemas: ["posts"] }] } }),
    );
    await d.operator.alertSubscriptions.watch(
      { channel: "C0SEARCH02", schema: "all", conditions: ["drift"], minFailures: 1, mention: "S0OPS00001" },
      { id: "U0ALICE001" },
    );
  });
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await d?.close();
  });

  it("lists every subscription with its source, or one channel's, or JSON", async () => {
    const all = await cli(["watches"]);
    expect(all.code).toBe(0);
    expect(all.lines).toEqual([
      `C0ONCALL01 ${POST} on=failures,drift,unreadable min=1 mention=- configuration file (config:0)`,
      expect.stringMatching(
        /^C0SEARCH02 all on=drift min=1 mention=S0OPS00001 watched by U0ALICE001 at \d{4}-\d\d-\d\dT[\d:.]+Z \(watch:\d+\)$/,
      ),
    ]);
    expect((await cli(["watches", "--channel", "C0SEARCH02"])).lines).toHaveLength(1);
    const json = JSON.parse((await cli(["watches", "--json"])).stdout);
    expect(json.map((s: { source: string }) => s.source)).toEqual(["config", "watch"]);
    expect((await cli(["watches", "posts"])).code).not.toBe(0);
  });
});
