// Test waiters: wait (bounded) until a condition on the fake's records holds, re-checking whenever
// a call, a post or a change of the conversation arrives, and at least every 250 ms.
export class Waiters {
  private waiters: (() => void)[] = [];

  /** Something arrived: every waiter re-checks its condition. */
  notify(): void {
    const waiters = this.waiters.splice(0);
    for (const w of waiters) w();
  }

  async until(check: () => boolean, timeoutMs: number, describe: () => string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out: ${describe()}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 250));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}
