// The sweeper tick: every so often, ask the operator to expire what is due and close interrupted
// executions (their cards change through the card poster). One sweep at a time per process;
// replicas race harmlessly (each close is a conditional UPDATE). The timer never keeps the process up.
import type { Logger } from "../log.ts";

/** How often the sweeper looks for pending cards whose time is up. */
export const SWEEP_INTERVAL_MS = 30_000;

export interface Sweeper {
  /** One sweep now (joins the one running); how many requests it closed. */
  sweep(): Promise<number>;
  start(intervalMs?: number): void;
  stop(): void;
}

export function createSweeper(expireDue: () => Promise<number>, logger: Logger): Sweeper {
  let timer: NodeJS.Timeout | null = null;
  let sweeping: Promise<number> | null = null;
  const sweep = (): Promise<number> => {
    sweeping ??= expireDue().finally(() => {
      sweeping = null;
    });
    return sweeping;
  };
  return {
    sweep,
    start(intervalMs = SWEEP_INTERVAL_MS) {
      if (timer) return;
      timer = setInterval(() => {
        sweep().catch((error: unknown) => logger.warn("the confirmation sweeper failed", { error }));
      }, intervalMs);
      timer.unref();
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = null;
    },
  };
}
