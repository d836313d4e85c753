// Whether a digest speaks at this slot (spec §9.8: speak only when it matters). Pure.
import type { DigestWhen } from "../config.ts";
import { type DigestSnapshot, digestHash, uncheckedSchemas } from "./content.ts";

export interface Decision {
  post: boolean;
  /** Why, in a few words (logged, stored with a skipped slot, shown by preview). */
  reason: string;
}

/** A digest reads as degraded when posture is not ok or any part of any schema could not be checked. */
export function isDegraded(snapshot: DigestSnapshot): boolean {
  return snapshot.posture.state !== "ok" || uncheckedSchemas(snapshot).length > 0;
}

/**
 * - `always`: every slot.
 * - `degraded`: only when the digest reads as degraded.
 * - `changed`: only when the significant content differs from the previous digest of that name
 *   (posted or skipped); the first digest always posts.
 */
export function shouldPost(
  when: DigestWhen,
  snapshot: DigestSnapshot,
  previous: { contentHash: string | null } | null,
): Decision {
  switch (when) {
    case "always":
      return { post: true, reason: "posts at every slot" };
    case "degraded":
      return isDegraded(snapshot)
        ? { post: true, reason: "degraded" }
        : { post: false, reason: "posture ok and every check read" };
    case "changed": {
      if (!previous) return { post: true, reason: "first digest" };
      return digestHash(snapshot) === previous.contentHash
        ? { post: false, reason: "unchanged since the previous digest" }
        : { post: true, reason: "changed since the previous digest" };
    }
  }
}
