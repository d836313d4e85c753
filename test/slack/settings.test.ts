// Slack settings from the environment, and what `npm start` says when they are missing.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { SandboxOptions } from "../../devkit/sandbox/index.ts";
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

describe("npm start", () => {
  it("starts the sandbox when the environment has no Slack credentials, with --port and --data-dir", async () => {
    let out = "";
    const calls: SandboxOptions[] = [];
    let stopped = 0;
    const started = await main(["--port", "4321", "--data-dir", "/tmp/keep"], {
      env: { PORT: "9999" },
      stderr: () => {},
      stdout: (t) => (out += t),
      startSandbox: async (options) => {
        calls.push(options);
        const stop = async () => {
          stopped += 1;
        };
        return { url: "http://127.0.0.1:4321/", stop };
      },
    });
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ port: 4321, dataDir: "/tmp/keep" });
    expect(out).toContain("no Slack credentials in the environment, so this is the sandbox");
    expect(out).toContain("open http://127.0.0.1:4321/");
    expect(out).toContain("Ctrl-C");
    if (!("stop" in started)) throw new Error("expected a running sandbox");
    await Promise.all([started.stop(), started.stop()]);
    expect(stopped).toBe(1);
  });

  it("reads the sandbox's port from PORT, refuses a bad one, and says why the sandbox failed", async () => {
    const calls: SandboxOptions[] = [];
    const fake = async (options: SandboxOptions) => {
      calls.push(options);
      if (options.port === 1) throw new Error("port 1 on 127.0.0.1 is in use; pass --port N (or PORT=N)");
      return { url: "http://127.0.0.1:4000/", stop: async () => {} };
    };
    await main([], { env: { PORT: "4000" }, stderr: () => {}, stdout: () => {}, startSandbox: fake });
    expect(calls.at(-1)).toMatchObject({ port: 4000 });
    expect(calls.at(-1)).not.toHaveProperty("dataDir");

    let err = "";
    const bad = await main(["--port", "http"], { env: {}, stderr: (t) => (err += t), startSandbox: fake });
    expect(bad).toEqual({ code: 1 });
    expect(err).toContain('--port must be a port number between 0 and 65535, got "http"');

    err = "";
    const taken = await main(["--port", "1"], { env: {}, stderr: (t) => (err += t), startSandbox: fake });
    expect(taken).toEqual({ code: 1 });
    expect(err).toContain("the sandbox did not start: port 1 on 127.0.0.1 is in use");
  });

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
