// Fault injection: Web API calls and response_url posts that fail (429 with Retry-After, an HTTP
// status, or ok:false), and a bot that "dies" around a call (the call is performed or not, and its
// answer never comes back: the connection is held open as a dead process would leave it).
import type { ServerResponse } from "node:http";
import type { CrashPoint, Failure } from "./types.ts";

type Body = Record<string, unknown>;

interface FailureRule {
  failure: Failure;
  remaining: number;
  /** Only calls whose body matches fail (and count). */
  when?: (body: Body) => boolean;
}

interface CrashRule {
  at: CrashPoint;
  remaining: number;
  when?: (body: Body) => boolean;
}

export class Faults {
  private readonly crashes = new Map<string, CrashRule>();
  private readonly held = new Set<ServerResponse>();
  private readonly apiFailures = new Map<string, FailureRule>();
  private readonly respondFailures = new Map<string, FailureRule>();

  /** The next `times` calls of `method` (whose body matches `when`, if given) fail. */
  failApi(method: string, failure: Failure, times = 1, when?: (body: Body) => boolean): void {
    this.apiFailures.set(method, { failure, remaining: times, ...(when ? { when } : {}) });
  }

  /** The next `times` posts to response_url `id` get `status`. */
  failRespond(id: string, status: number, times = 1): void {
    this.respondFailures.set(id, { failure: { status }, remaining: times });
  }

  /** The bot dies around the next `times` calls of `method` (whose body matches `when`). */
  crashOn(method: string, at: CrashPoint, when?: (body: Body) => boolean, times = 1): void {
    this.crashes.set(method, { at, remaining: times, ...(when ? { when } : {}) });
  }

  /** The failure this call of `method` meets, if one is due (and counts it). */
  apiFailure(method: string, body: Body): Failure | null {
    return take(this.apiFailures, method, body);
  }

  /** The failure this post to response_url `id` meets, if one is due (and counts it). */
  respondFailure(id: string): Failure | null {
    return take(this.respondFailures, id, {});
  }

  /** Where the bot dies around this call of `method`, if a crash is due (and counts it). */
  crash(method: string, body: Body): CrashPoint | null {
    const crash = this.crashes.get(method);
    if (!crash || crash.remaining <= 0 || (crash.when && !crash.when(body))) return null;
    crash.remaining -= 1;
    if (crash.remaining === 0) this.crashes.delete(method);
    return crash.at;
  }

  /** Keeps the connection of a crashed call open until releaseCrashed(). */
  hold(res: ServerResponse): void {
    this.held.add(res);
    res.on("close", () => this.held.delete(res));
  }

  /** Calls held by crashOn, not yet released. */
  get crashedCalls(): number {
    return this.held.size;
  }

  /** Forgets crashes set up with crashOn that have not happened yet. */
  cancelCrashes(): void {
    this.crashes.clear();
  }

  /** Drops the connections crashOn held: the caller (if it still lives) sees them reset. */
  releaseCrashed(): void {
    for (const res of this.held) res.destroy();
    this.held.clear();
  }
}

function take(rules: Map<string, FailureRule>, id: string, body: Body): Failure | null {
  const rule = rules.get(id);
  if (!rule || rule.remaining <= 0 || (rule.when && !rule.when(body))) return null;
  rule.remaining -= 1;
  if (rule.remaining === 0) rules.delete(id);
  return rule.failure;
}
