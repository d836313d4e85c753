// Slack settings from the environment, and what `npm start` says when they are missing.
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

describe("npm start", () => {
  it("exits 1 naming the variables when the environment has no Slack credentials", async () => {
    let err = "";
    const started = await main([], { env: {}, stderr: (t) => (err += t) });
    expect(started).toEqual({ code: 1 });
    expect(err).toMatch(/^scrypath-bot: no Slack credentials in the environment/);
    for (const name of ["SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN"])
      expect(err).toContain(name);
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
