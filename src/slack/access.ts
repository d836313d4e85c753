// Who may request and confirm mutations from Slack: src/core/access.ts decides, this resolves the
// members of the configured user groups (usergroups.users.list), cached for a short time. A lookup
// that fails or does not answer within a few seconds is logged and denies: deny by default, saying
// the membership could not be checked.

import type { Config } from "../config.ts";
import { type AccessDecision, mutationAccess } from "../core/access.ts";
import type { Logger } from "../log.ts";
import { withTimeout } from "../timeout.ts";
import type { Chat } from "./chat.ts";

/** How long resolved user-group members are trusted. */
export const USERGROUP_TTL_MS = 60_000;

/** Every user-group lookup of one decision together (they run in parallel) waits at most this long. */
export const USERGROUP_LOOKUP_TIMEOUT_MS = 3_000;

/** How refusals name the role that is needed (to the person refused: no config key). */
export const OPERATOR_ROLE = "operator";

export interface AccessDeps {
  access: Config["access"];
  chat: Pick<Chat, "call">;
  logger: Logger;
  ttlMs?: number;
  lookupTimeoutMs?: number;
  /** Milliseconds; injected for tests. */
  clock?: () => number;
}

export interface Access {
  /**
   * May `userId` request a mutation (no `requestedBy`), or confirm one that `requestedBy` asked for
   * (the two-person rule applies when configured)?
   */
  decide(
    userId: string,
    options?: { requestedBy?: string | null; twoPersonRule?: boolean },
  ): Promise<AccessDecision>;
}

interface Entry {
  at: number;
  members: Promise<ReadonlySet<string> | null>;
}

export function createAccess(deps: AccessDeps): Access {
  const ttl = deps.ttlMs ?? USERGROUP_TTL_MS;
  const clock = deps.clock ?? Date.now;
  const lookupTimeoutMs = deps.lookupTimeoutMs ?? USERGROUP_LOOKUP_TIMEOUT_MS;
  const cache = new Map<string, Entry>();

  const lookup = async (group: string): Promise<ReadonlySet<string> | null> => {
    try {
      // The chat wrapper retries (and honours Retry-After); a decision cannot wait for all of that.
      const call = deps.chat.call<{ users?: unknown }>("usergroups.users.list", { usergroup: group });
      const result = await withTimeout(call, lookupTimeoutMs, () => {
        throw new Error(`Slack did not answer usergroups.users.list within ${lookupTimeoutMs} ms`);
      });
      const users = Array.isArray(result.users) ? result.users.filter((u) => typeof u === "string") : [];
      return new Set(users);
    } catch (error) {
      deps.logger.warn("could not resolve a user group; membership in it cannot be checked", {
        usergroup: group,
        error,
      });
      return null;
    }
  };

  /** One lookup per group at a time; failures are not cached, so the next decision asks again. */
  const membersOf = (group: string): Promise<ReadonlySet<string> | null> => {
    const now = clock();
    const cached = cache.get(group);
    if (cached && now - cached.at < ttl) return cached.members;
    const members = lookup(group);
    cache.set(group, { at: now, members });
    members.then((m) => {
      if (m === null && cache.get(group)?.members === members) cache.delete(group);
    });
    return members;
  };

  return {
    async decide(userId, options = {}) {
      const { operators, twoPersonRule } = deps.access;
      let groupMembers: ReadonlySet<string> | null = null;
      let groupsUnresolved = false;
      if (!operators.users.includes(userId) && operators.usergroups.length > 0) {
        const sets = await Promise.all(operators.usergroups.map(membersOf));
        groupMembers = new Set(sets.flatMap((s) => (s ? [...s] : [])));
        groupsUnresolved = sets.some((s) => s === null);
      }
      return mutationAccess({
        userId,
        operators,
        groupMembers,
        groupsUnresolved,
        requestedBy: options.requestedBy ?? null,
        twoPersonRule: options.twoPersonRule ?? twoPersonRule,
      });
    },
  };
}
