// The watch commands' views: valid Block Kit, a text fallback, data escaped, user groups never
// pinged from a listing, sources said plainly.
import { describe, expect, it } from "vitest";
import type { AlertSubscription } from "../../src/core/alertTypes.ts";
import { channelRefusedView, unwatchResultView, watchesView, watchResultView } from "../../views/watches.ts";
import { expectSafe, HOSTILE, NOW, viewContext, visibleText } from "./fixtures.ts";

const yaml: AlertSubscription = {
  key: "config:0",
  source: "config",
  channel: "C0ONCALL01",
  schemas: ["MyApp.Blog.Post"],
  on: ["failures"],
  minFailures: 3,
  mention: "S0OPS00001",
  createdBy: null,
  createdAt: null,
};
const stored: AlertSubscription = {
  key: "watch:7",
  source: "watch",
  channel: "C0ONCALL01",
  schemas: null,
  on: ["failures", "drift", "unreadable"],
  minFailures: 1,
  mention: null,
  createdBy: "U0ALICE001",
  createdAt: "2026-11-20T09:00:00.000Z",
  updatedBy: "U0BOB00002",
  updatedAt: "2026-11-20T09:30:00.000Z",
};

describe("watch views", () => {
  it("lists a channel's subscriptions with where each came from", () => {
    const m = watchesView([yaml, stored], viewContext(), { channel: "C0ONCALL01" });
    expectSafe(m, { allowedUsers: ["U0ALICE001", "U0BOB00002"] });
    const text = visibleText(m);
    expect(text).toContain("*`MyApp.Blog.Post`*: terminal failures (at least 3)");
    expect(text).toContain("_configuration file_");
    expect(text).toContain("*all schemas*: terminal failures, contract drift, unreadable backend");
    expect(text).toMatch(/watched by <@U0ALICE001> on <!date\^\d+\^/);
    expect(text).toMatch(/changed by <@U0BOB00002> on <!date\^\d+\^/);
    // The group is named, never pinged, by a listing.
    expect(text).toContain("mentions user group `S0OPS00001` when an alert opens");
    expect(JSON.stringify(m)).not.toContain("<!subteam");
    const all = watchesView([yaml, { ...stored, channel: "C0OTHER001" }], viewContext(), { channel: null });
    expectSafe(all, { allowedUsers: ["U0ALICE001", "U0BOB00002"] });
    expect(visibleText(all)).toContain("<#C0OTHER001>");
  });

  it("marks a subscription to a schema no longer configured", () => {
    const m = watchesView([yaml], viewContext(), { channel: "C0ONCALL01", configured: ["MyApp.Other"] });
    expectSafe(m);
    expect(visibleText(m)).toContain(
      "no longer in the configuration, so no alerts: `/scrypath unwatch MyApp.Blog.Post` removes it",
    );
    const fine = watchesView([yaml], viewContext(), {
      channel: "C0ONCALL01",
      configured: ["MyApp.Blog.Post"],
    });
    expect(visibleText(fine)).not.toContain("no longer in the configuration");
  });

  it("says how to start when nothing is watched", () => {
    const m = watchesView([], viewContext(), { channel: "C0ONCALL01" });
    expectSafe(m);
    expect(visibleText(m)).toContain("This channel hears no alerts yet");
  });

  it("escapes whatever the data holds", () => {
    const hostile = { ...stored, channel: HOSTILE, schemas: [HOSTILE], createdBy: HOSTILE, mention: HOSTILE };
    for (const m of [
      watchesView([hostile], viewContext(), { channel: null }),
      watchResultView({ outcome: "watched", subscription: hostile }, viewContext()),
      watchResultView(
        {
          outcome: "updated",
          subscription: hostile,
          changes: [{ field: "mention", from: HOSTILE, to: null }],
        },
        viewContext(),
      ),
      unwatchResultView({ outcome: "unwatched", removed: hostile, stillConfigured: [yaml] }, viewContext()),
      channelRefusedView({ reason: "channel_unchecked", detail: HOSTILE }),
    ]) {
      expectSafe(m, { allowedUsers: ["U0BOB00002"] });
    }
  });

  it("answers a watch, a change and an unchanged repeat", () => {
    const watched = watchResultView({ outcome: "watched", subscription: stored }, viewContext());
    expectSafe(watched);
    expect(visibleText(watched)).toContain("This channel now hears alerts about *all schemas*");
    const updated = watchResultView(
      {
        outcome: "updated",
        subscription: { ...stored, minFailures: 5, mention: "S0OPS00001" },
        changes: [
          { field: "minFailures", from: 1, to: 5 },
          { field: "mention", from: null, to: "S0OPS00001" },
        ],
      },
      viewContext({ now: NOW }),
    );
    expectSafe(updated);
    expect(visibleText(updated)).toContain(
      "minimum failures 1 → 5; mention nobody → user group `S0OPS00001`",
    );
    const same = watchResultView({ outcome: "unchanged", subscription: stored }, viewContext());
    expect(visibleText(same)).toContain("nothing changed");
  });

  it("tells how to let the bot post, or that the channel is archived", () => {
    const notIn = channelRefusedView({ reason: "bot_not_in_channel", detail: "not a member" });
    expectSafe(notIn);
    expect(visibleText(notIn)).toContain(
      "I can't post in this channel: invite me with `/invite @scrypath` first",
    );
    const archived = channelRefusedView({ reason: "channel_archived", detail: "archived" });
    expect(visibleText(archived)).toContain("it is archived");
    expect(
      visibleText(
        unwatchResultView({ outcome: "unwatched", removed: stored, stillConfigured: [yaml] }, viewContext()),
      ),
    ).toContain("change it in code review");
  });
});
