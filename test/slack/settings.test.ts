// Slack settings from the environment, and what the production entry (src/main.ts, `npm run serve`)
// says when they are missing. `npm start` (the sandbox without credentials) is test/devkit/start.test.ts.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { main } from "../../src/main.ts";
import { SlackSetupError, slackSettings } from "../../src/slack/settings.ts";

describe("slackSettings", () => {
  it("chooses HTTP mode with a bot token and signing secret", () => {
    expect(slackSettings({ SLACK_BOT_TOKEN: "xoxb-1", SLACK_SIGNING_SECRET: "s" })).toEqual({
      mode: "http",
      botToken: "xoxb-1",
      signingSecret: "s",
      appToken: null,
      apiUrl: null,
      botId: null,
      botUserId: null,
      port: 3000,
      host: null,
    });
  });

  it("chooses Socket Mode when SLACK_APP_TOKEN is set, without a signing secret", () => {
    const s = slackSettings({ SLACK_BOT_TOKEN: "xoxb-1", SLACK_APP_TOKEN: "xapp-1-x", PORT: "8080" });
    expect(s).toMatchObject({ mode: "socket", signingSecret: null, appToken: "xapp-1-x", port: 8080 });
  });

  it("normalises SLACK_API_URL to end in a slash", () => {
    const s = slackSettings({
      SLACK_BOT_TOKEN: "x",
      SLACK_SIGNING_SECRET: "s",
      SLACK_API_URL: "http://127.0.0.1:9/api",
    });
    expect(s.apiUrl).toBe("http://127.0.0.1:9/api/");
  });

  it("names every problem at once", () => {
    const attempt = () =>
      slackSettings({
        SLACK_APP_TOKEN: "xoxb-wrong",
        PORT: "http",
        SLACK_API_URL: "ftp://x",
        SLACK_BOT_ID: "B1",
      });
    expect(attempt).toThrow(SlackSetupError);
    expect(attempt).toThrow(/SLACK_BOT_TOKEN is not set/);
    expect(attempt).toThrow(/SLACK_APP_TOKEN must be an app-level token \(xapp-…\)/);
    expect(attempt).toThrow(/PORT must be a port number/);
    expect(attempt).toThrow(/SLACK_API_URL must be an http\(s\) URL/);
    expect(attempt).toThrow(/set both SLACK_BOT_ID and SLACK_BOT_USER_ID/);
  });

  it("requires the signing secret in HTTP mode, and says how to use Socket Mode instead", () => {
    expect(() => slackSettings({ SLACK_BOT_TOKEN: "xoxb-1" })).toThrow(
      /SLACK_SIGNING_SECRET is not set.*or set SLACK_APP_TOKEN to use Socket Mode/,
    );
  });
});

describe("the production entry (npm run serve)", () => {
  it("refuses --data-dir when Slack credentials are set (it belongs to the sandbox)", async () => {
    let err = "";
    const env = { SLACK_BOT_TOKEN: "xoxb-1", SLACK_SIGNING_SECRET: "s" };
    const started = await main(["--data-dir", "x"], { env, stderr: (t) => (err += t) });
    expect(started).toEqual({ code: 1 });
    expect(err).toContain("--data-dir is for the sandbox");
  });

  it("refuses an invalid configuration at start-up with one line per problem", async () => {
    const dir = mkdtempSync(join(tmpdir(), "scrypath-serve-config-"));
    try {
      const file = join(dir, "bad.yml");
      writeFileSync(file, "meilisearch:\n  url: nope\ndatabase:\n  url: postgres://h/db\n  port: 5\n");
      let err = "";
      const env = { SLACK_BOT_TOKEN: "xoxb-1", SLACK_SIGNING_SECRET: "s" };
      const started = await main(["--config", file], { env, stderr: (t) => (err += t) });
      expect(started).toEqual({ code: 1 });
      expect(err).toBe(
        [
          `scrypath-bot: invalid configuration in ${file}:`,
          "  meilisearch.url: expected an http(s) URL",
          "  database.port: unknown key",
          "",
        ].join("\n"),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("exits 1 naming the missing variables without Slack credentials (it never starts the sandbox)", async () => {
    let err = "";
    const started = await main(["--port", "4321"], {
      env: {},
      stderr: (t) => (err += t),
      stdout: (t) => (err += t),
    });
    expect(started).toEqual({ code: 1 });
    expect(err.trim().split("\n")).toHaveLength(1);
    expect(err).toMatch(
      /^scrypath-bot: Slack settings: SLACK_BOT_TOKEN is not set.*SLACK_SIGNING_SECRET is not set/,
    );
    expect(err).not.toContain("sandbox");
  });

  it("npm run serve, as a process, exits 1 with one line naming the missing variables", () => {
    const root = fileURLToPath(new URL("../../", import.meta.url));
    const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
      scripts: Record<string, string>;
    };
    expect(pkg.scripts.serve).toBe("node --import tsx src/main.ts");
    const run = spawnSync(process.execPath, ["--import", "tsx", "src/main.ts"], {
      cwd: root,
      env: { PATH: process.env.PATH, HOME: process.env.HOME },
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(run.status, run.stderr).toBe(1);
    expect(run.stdout).toBe("");
    expect(run.stderr.trim().split("\n")).toHaveLength(1);
    expect(run.stderr).toContain("SLACK_BOT_TOKEN is not set");
    expect(run.stderr).toContain("SLACK_SIGNING_SECRET is not set");
  });

  it("exits 1 with the missing variable when the credentials are incomplete", async () => {
    let err = "";
    const started = await main([], { env: { SLACK_BOT_TOKEN: "xoxb-1" }, stderr: (t) => (err += t) });
    expect(started).toEqual({ code: 1 });
    expect(err).toContain("SLACK_SIGNING_SECRET is not set");
  });

  it("exits 1 when the configuration file is missing", async () => {
    let err = "";
    const env = {
      SLACK_BOT_TOKEN: "xoxb-1",
      SLACK_SIGNING_SECRET: "s",
      SCRYPATH_BOT_CONFIG: "/nonexistent/bot.yml",
    };
    const started = await main([], { env, stderr: (t) => (err += t) });
    expect(started).toEqual({ code: 1 });
    expect(err).toContain("no configuration file at /nonexistent/bot.yml");
  });
});
