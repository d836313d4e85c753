// Deploy-time settings from the environment (ADMIN_PORT, DATABASE_POOL_SIZE, LOG_LEVEL,
// SCRYPATH_BOT_CONFIG, SHUTDOWN_DRAIN_SECONDS): defaults, and a bad value refused at start-up with
// one line naming the variable.
import { describe, expect, it } from "vitest";
import { DeployEnvError, deployEnv } from "../src/deployEnv.ts";
import { main } from "../src/main.ts";

describe("deployEnv", () => {
  it("has the documented defaults", () => {
    expect(deployEnv({})).toEqual({
      adminPort: 9090,
      poolSize: null,
      logLevel: "info",
      configPath: null,
      drainMs: 20_000,
    });
  });

  it("reads every deploy-time setting from the environment (blank counts as unset)", () => {
    expect(
      deployEnv({
        ADMIN_PORT: "9191",
        DATABASE_POOL_SIZE: " 12 ",
        LOG_LEVEL: "WARN",
        SCRYPATH_BOT_CONFIG: "/etc/scrypath-bot/config.yml",
        SHUTDOWN_DRAIN_SECONDS: "25",
      }),
    ).toEqual({
      adminPort: 9191,
      poolSize: 12,
      logLevel: "warn",
      configPath: "/etc/scrypath-bot/config.yml",
      drainMs: 25_000,
    });
    expect(deployEnv({ ADMIN_PORT: "", LOG_LEVEL: " " }).adminPort).toBe(9090);
  });

  it("names every bad variable at once, on one line", () => {
    const attempt = () =>
      deployEnv({
        ADMIN_PORT: "70000",
        DATABASE_POOL_SIZE: "0",
        LOG_LEVEL: "verbose",
        SHUTDOWN_DRAIN_SECONDS: "ten",
      });
    expect(attempt).toThrow(DeployEnvError);
    let message = "";
    try {
      attempt();
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message.split("\n")).toHaveLength(1);
    expect(message).toContain('ADMIN_PORT must be a port number between 0 and 65535, got "70000"');
    expect(message).toContain(
      'DATABASE_POOL_SIZE must be a whole number of connections between 1 and 100, got "0"',
    );
    expect(message).toContain('LOG_LEVEL must be one of debug, info, warn, error, got "verbose"');
    expect(message).toContain(
      'SHUTDOWN_DRAIN_SECONDS must be a whole number of seconds between 1 and 600, got "ten"',
    );
  });
});

describe("the production entry refuses a bad deploy setting", () => {
  it.each([
    ["ADMIN_PORT", "http"],
    ["DATABASE_POOL_SIZE", "-3"],
    ["LOG_LEVEL", "loud"],
  ])("%s=%s: exits 1 with one line naming it, before anything starts", async (name, value) => {
    let err = "";
    const env = { SLACK_BOT_TOKEN: "xoxb-1", SLACK_SIGNING_SECRET: "s", [name]: value };
    const started = await main([], { env, stderr: (t) => (err += t), stdout: (t) => (err += t) });
    expect(started).toEqual({ code: 1 });
    expect(err.trim().split("\n")).toHaveLength(1);
    expect(err).toMatch(new RegExp(`^scrypath-bot: environment: ${name} must be .*, got "${value}"`));
  });
});
