// "Break Meilisearch for a minute": a real outage of the sandbox's own Meilisearch. The embedded
// server's process is stopped (SIGSTOP) for the outage and continued (SIGCONT) after it: connections
// still queue in the kernel, nothing answers, every request hangs until its client gives up. Meanwhile
// the demo application keeps saving posts (`during`), so the demo Oban worker's sync jobs really time
// out, go retryable and end discarded, and the bot's own reads of Meilisearch fail too. A second start
// while broken changes nothing; stop() (the sandbox stopping) always continues the process first.
import { EventEmitter } from "node:events";
import type { MeilisearchServer } from "../services/meilisearchServer.ts";

/** What the page shows: the button, and while broken a countdown, then "Meilisearch is back". */
export interface OutageState {
  /** The button's label, e.g. "Break Meilisearch for a minute". */
  label: string;
  /** ok: never broken in this run; broken: paused now; back: paused earlier and answering again. */
  status: "ok" | "broken" | "back";
  /** While broken: milliseconds until Meilisearch is continued. */
  remainingMs: number | null;
  startedAt: string | null;
  /** When it answered again (status back). */
  backAt: string | null;
}

export interface OutageOptions {
  server: Pick<MeilisearchServer, "pause" | "resume" | "paused" | "url">;
  durationMs?: number;
  /** The application's work meanwhile: run once at the start, then every `everyMs` while broken. */
  during?: { everyMs: number; run: () => Promise<void> };
  onError?: (error: unknown) => void;
}

export interface MeilisearchOutage {
  state(): OutageState;
  /** Starts the outage; while one is under way it does nothing and says so (`already`). */
  start(): OutageState & { already: boolean };
  /** Every change of state (for the page's event stream). */
  readonly changes: EventEmitter<{ change: [OutageState] }>;
  /** Ends an outage under way (Meilisearch continued) and stops its timers; idempotent. */
  stop(): Promise<void>;
}

export const OUTAGE_MS = 60_000;
/** How long "is back" waits for Meilisearch's /health after SIGCONT before saying it anyway. */
const BACK_CHECK_MS = 10_000;

export function outageLabel(durationMs: number): string {
  const seconds = Math.round(durationMs / 1000);
  if (seconds === 60) return "Break Meilisearch for a minute";
  return seconds % 60 === 0
    ? `Break Meilisearch for ${seconds / 60} minutes`
    : `Break Meilisearch for ${seconds} seconds`;
}

export function meilisearchOutage(options: OutageOptions): MeilisearchOutage {
  const { server } = options;
  const durationMs = options.durationMs ?? OUTAGE_MS;
  const label = outageLabel(durationMs);
  const changes = new EventEmitter<{ change: [OutageState] }>();
  let status: OutageState["status"] = "ok";
  let startedAt: Date | null = null;
  let backAt: Date | null = null;
  let endTimer: NodeJS.Timeout | undefined;
  let workTimer: NodeJS.Timeout | undefined;
  let work: Promise<void> = Promise.resolve();
  let stopped = false;

  const state = (): OutageState => ({
    label,
    status,
    remainingMs:
      status === "broken" && startedAt ? Math.max(0, startedAt.getTime() + durationMs - Date.now()) : null,
    startedAt: startedAt?.toISOString() ?? null,
    backAt: backAt?.toISOString() ?? null,
  });
  const emit = () => changes.emit("change", state());

  const runWork = () => {
    const during = options.during;
    if (!during || stopped || status !== "broken") return;
    work = work
      .then(() => during.run())
      .catch((error: unknown) => options.onError?.(error))
      .finally(() => {
        if (!stopped && status === "broken") workTimer = setTimeout(runWork, during.everyMs);
      });
  };

  /** Continues the process; "back" once /health answers (it does at once after SIGCONT). */
  const end = async () => {
    clearTimeout(endTimer);
    clearTimeout(workTimer);
    server.resume();
    if (status !== "broken") return;
    const until = Date.now() + BACK_CHECK_MS;
    while (!stopped && Date.now() < until) {
      try {
        const res = await fetch(`${server.url}/health`, { signal: AbortSignal.timeout(2_000) });
        await res.arrayBuffer();
        if (res.ok) break;
      } catch {
        // still waking up
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    status = "back";
    backAt = new Date();
    emit();
  };

  return {
    state,
    changes,
    start() {
      if (status === "broken" || stopped) return { ...state(), already: status === "broken" };
      status = "broken";
      startedAt = new Date();
      backAt = null;
      server.pause();
      endTimer = setTimeout(() => {
        end().catch((error: unknown) => options.onError?.(error));
      }, durationMs);
      runWork();
      emit();
      return { ...state(), already: false };
    },
    async stop() {
      stopped = true;
      clearTimeout(endTimer);
      clearTimeout(workTimer);
      // Continued before anything else stops: a stopped process ignores SIGTERM.
      server.resume();
      await work;
    },
  };
}
