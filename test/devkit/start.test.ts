// `npm start` with no Slack credentials, as a person runs it: `node --import tsx devkit/start.ts` in a
// process group of its own, a ready page within 30 s, then Ctrl-C (SIGINT to the whole group, as a
// terminal sends it), and nothing left behind: no process of the group, no temporary directory.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import type { SandboxOptions } from "../../devkit/sandbox/index.ts";
import { freePort } from "../../devkit/services/util.ts";
import { main } from "../../devkit/start.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const READY_WITHIN_MS = 30_000;

interface GroupProcess {
  pid: number;
  args: string;
}

/** Every process in process group `pgid`. */
function groupProcesses(pgid: number): GroupProcess[] {
  const out = execFileSync("ps", ["-eo", "pid=,pgid=,args="], { encoding: "utf8" });
  return out
    .split("\n")
    .map((line) => /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null && Number(m[2]) === pgid)
    .map((m) => ({ pid: Number(m[1]), args: m[3] ?? "" }));
}

/** The data directories the embedded servers of the group were started with. */
function serverDirs(processes: GroupProcess[]): string[] {
  const dirs: string[] = [];
  for (const { args } of processes) {
    const meili = /--db-path (\S+)\/data\.ms/.exec(args);
    if (meili?.[1]) dirs.push(meili[1]);
    const postgres = /postgres -D (\S+)\/data\b/.exec(args);
    if (postgres?.[1]) dirs.push(postgres[1]);
  }
  return dirs;
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
}

describe("npm start without Slack credentials", { timeout: 90_000 }, () => {
  let child: ChildProcess | undefined;
  let tmp: string | undefined;

  afterAll(async () => {
    // Only if the test failed half-way: end what it started, by its group id.
    if (child?.pid && groupProcesses(child.pid).length > 0) process.kill(-child.pid, "SIGKILL");
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it("serves a ready page within 30 s and stops cleanly on SIGINT, leaving nothing behind", async () => {
    tmp = await mkdtemp(path.join(tmpdir(), "scrypath-start-test-"));
    // As root, initdb runs as the postgres user, who must reach TMPDIR (it reads its password file there).
    await chmod(tmp, 0o755);
    const port = await freePort();
    const started = Date.now();
    // What `npm start` runs (npm itself would only add its own signal relay), in a clean environment:
    // no Slack credentials, no DATABASE_URL, temporary files in a fresh TMPDIR.
    const pkg = JSON.parse(await readFile(path.join(ROOT, "package.json"), "utf8")) as {
      scripts: Record<string, string>;
    };
    expect(pkg.scripts.start).toBe("node --import tsx devkit/start.ts");
    child = spawn(process.execPath, ["--import", "tsx", "devkit/start.ts", "--port", String(port)], {
      cwd: ROOT,
      detached: true,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, TMPDIR: tmp, LANG: "C.UTF-8" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const pgid = child.pid as number;
    const url = `http://127.0.0.1:${port}/`;

    let ready = false;
    while (!ready && Date.now() - started < READY_WITHIN_MS) {
      if (child.exitCode !== null) throw new Error(`npm start exited early:\n${stdout}\n${stderr}`);
      try {
        const [page, state] = await Promise.all([fetch(url), fetch(`${url}api/state`)]);
        ready =
          page.status === 200 &&
          state.status === 200 &&
          ((await state.json()) as { users: unknown[] }).users.length === 3;
      } catch {
        // not listening yet
      }
      if (!ready) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(ready, `no ready page after ${READY_WITHIN_MS / 1000} s:\n${stdout}\n${stderr}`).toBe(true);
    expect(Date.now() - started).toBeLessThan(READY_WITHIN_MS);
    await expect.poll(() => stdout, { timeout: 5_000 }).toContain(`open ${url}`);
    expect(stdout).toContain("Ctrl-C");

    const running = groupProcesses(pgid);
    expect(running.some((p) => p.args.includes("meilisearch"))).toBe(true);
    expect(running.some((p) => /\bpostgres\b/.test(p.args))).toBe(true);
    const dirs = serverDirs(running);
    expect(dirs).toHaveLength(2);
    for (const dir of dirs) expect(existsSync(dir)).toBe(true);

    // Ctrl-C: the terminal signals every process of the foreground group.
    process.kill(-pgid, "SIGINT");
    const { code } = await exited(child);
    expect(code, `${stdout}\n${stderr}`).toBe(0);
    expect(stdout).toContain("stopped");
    await expect.poll(() => groupProcesses(pgid), { timeout: 10_000 }).toEqual([]);
    for (const dir of dirs) expect(existsSync(dir), `${dir} is left behind`).toBe(false);
    // In the fresh TMPDIR, at most tsx's compile cache remains.
    expect((await readdir(tmp)).filter((name) => !name.startsWith("tsx-"))).toEqual([]);
  });
});

describe("npm start, in process", () => {
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

  it("runs the production bot when Slack credentials are set (which refuses the sandbox's --data-dir)", async () => {
    let err = "";
    let sandboxes = 0;
    const env = { SLACK_BOT_TOKEN: "xoxb-1", SLACK_SIGNING_SECRET: "s" };
    const startSandbox = async () => {
      sandboxes += 1;
      return { url: "http://127.0.0.1:1/", stop: async () => {} };
    };
    const started = await main(["--data-dir", "x"], { env, stderr: (t) => (err += t), startSandbox });
    expect(started).toEqual({ code: 1 });
    expect(err).toContain("--data-dir is for the sandbox");
    expect(sandboxes).toBe(0);
  });

  it("says how to call it when an option is unknown", async () => {
    let err = "";
    const started = await main(["--nope"], { env: {}, stderr: (t) => (err += t) });
    expect(started).toEqual({ code: 1 });
    expect(err).toContain("usage: npm start -- [--config FILE] [--port N] [--data-dir DIR]");
  });
});
