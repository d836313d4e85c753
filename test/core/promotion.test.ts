import { describe, expect, it } from "vitest";
import { type PromotionInput, promotionBlocks, promotionEligibility } from "../../src/core/promotion.ts";
import type { ContractDriftReport, ReindexVisibility, Status } from "../../src/core/types.ts";
import { CONTRACT_DIMENSIONS } from "../../src/core/types.ts";

const bucket = (total = 0) => ({ total, items: [] });
const status = (
  over: {
    backendPending?: number;
    backendFailed?: number;
    queuePending?: number;
    queueRetrying?: number;
    queueFailed?: number;
  } = {},
): Status => ({
  schema: "My.Post",
  mode: "oban",
  index: "s_post",
  backend: { pending: bucket(over.backendPending), failed: bucket(over.backendFailed), lastSucceeded: null },
  queue: {
    observed: true,
    pending: bucket(over.queuePending),
    retrying: bucket(over.queueRetrying),
    failed: bucket(over.queueFailed),
    lastSucceeded: null,
  },
});
const reindex = (over: Partial<ReindexVisibility> = {}): ReindexVisibility => ({
  liveIndex: "s_post",
  targetIndex: "s_post__reindex",
  observed: true,
  taskState: "completed",
  cutover: "not_started",
  lastTask: null,
  ...over,
});
const contract = (mismatch = false, over: Partial<ContractDriftReport> = {}): ContractDriftReport => ({
  version: 1,
  schema: "Elixir.My.Post",
  index: "s_post",
  dimensions: Object.fromEntries(
    CONTRACT_DIMENSIONS.map((d) => [d, { match: !(mismatch && d === "settings"), details: [] }]),
  ) as unknown as ContractDriftReport["dimensions"],
  ...over,
});
const input = (
  over: Partial<PromotionInput> = {},
  r: Partial<Exclude<PromotionInput["reconcile"], Error>> = {},
): PromotionInput => ({
  backend: "Elixir.Scrypath.Meilisearch",
  schema: "My.Post",
  liveIndex: "s_post",
  targetIndex: "s_post__reindex",
  reconcile: {
    schema: "My.Post",
    index: "s_post",
    status: status(),
    failedWorkTotal: 0,
    reindex: reindex(),
    ...r,
  },
  contract: contract(),
  ...over,
});
const reason = (i: PromotionInput) => {
  const v = promotionEligibility(i);
  return v.eligible ? "eligible" : v.reason;
};

describe("promotionEligibility (§9.5)", () => {
  it("is eligible when every rule holds, including after an earlier completed cutover", () => {
    expect(reason(input())).toBe("eligible");
    expect(reason(input({}, { reindex: reindex({ cutover: "completed" }) }))).toBe("eligible");
  });

  it.each([
    ["unsupported_backend", input({ backend: "Elixir.Other" })],
    ["reconcile_failed", input({ reconcile: new Error("down") })],
    ["contract_failed", input({ contract: new Error("down") })],
    ["context_mismatch", input({}, { index: "s_other" })],
    ["context_mismatch", input({ contract: contract(false, { index: "s_other" }) })],
    ["context_mismatch", input({ contract: contract(false, { schema: "Elixir.My.Other" }) })],
    [
      "indexes_not_distinct",
      input({ targetIndex: "s_post" }, { reindex: reindex({ targetIndex: "s_post" }) }),
    ],
    ["target_unobserved", input({}, { reindex: reindex({ observed: false, taskState: "idle" }) })],
    ["backend_work_pending", input({}, { status: status({ backendPending: 1 }) })],
    ["queue_work_pending", input({}, { status: status({ queuePending: 1 }) })],
    ["queue_work_pending", input({}, { status: status({ queueRetrying: 1 }) })],
    ["reindex_pending", input({}, { reindex: reindex({ taskState: "pending" }) })],
    ["cutover_pending", input({}, { reindex: reindex({ cutover: "pending" }) })],
    ["failed_work", input({}, { failedWorkTotal: 3 })],
    ["failed_work", input({}, { status: status({ backendFailed: 1 }) })],
    ["failed_work", input({}, { status: status({ queueFailed: 1 }) })],
    ["failed_work", input({}, { reindex: reindex({ taskState: "failed" }) })],
    ["contract_mismatch", input({ contract: contract(true) })],
  ])("blocks with %s", (expected, i) => {
    expect(reason(i)).toBe(expected);
  });

  it("applies the rules in ScrypathOps' order", () => {
    // Pending queue work is reported before failed work and contract drift.
    const i = input({ contract: contract(true) }, { status: status({ queuePending: 1, queueFailed: 1 }) });
    expect(reason(i)).toBe("queue_work_pending");
  });
});

describe("promotionBlocks: every failing rule, first one as promotionEligibility", () => {
  it("lists every rule that fails, in order, and the first is the eligibility verdict", () => {
    const many = input(
      {},
      {
        status: status({ queuePending: 2, queueFailed: 3 }),
        failedWorkTotal: 3,
        reindex: reindex({ observed: false }),
      },
    );
    expect(promotionBlocks(many)).toEqual(["target_unobserved", "queue_work_pending", "failed_work"]);
    expect(promotionEligibility(many)).toMatchObject({ eligible: false, reason: "target_unobserved" });
    expect(promotionBlocks(input({ contract: contract(true) }, { failedWorkTotal: 1 }))).toEqual([
      "failed_work",
      "contract_mismatch",
    ]);
    expect(promotionBlocks(input())).toEqual([]);
    // A cutover pending is not also "check in progress".
    expect(promotionBlocks(input({}, { reindex: reindex({ cutover: "pending" }) }))).toEqual([
      "cutover_pending",
    ]);
  });

  it("stops at a failed read: nothing after it can be judged", () => {
    expect(promotionBlocks(input({ reconcile: new Error("down") }))).toEqual(["reconcile_failed"]);
    expect(
      promotionBlocks(input({ targetIndex: "s_post" }, { reindex: reindex({ targetIndex: "s_post" }) })),
    ).toEqual(["indexes_not_distinct"]);
  });
});
