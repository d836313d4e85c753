// Asking for a mutation: authorise, validate, preview and check it (what the confirm would refuse is
// refused now, with no card), store it (one pending card per target), audit it, post its card.
import { isOperatorError, RefusedError } from "../../errors.ts";
import {
  attachMessage,
  type Confirmation,
  claimConfirmation,
  createConfirmation,
  findPendingFor,
} from "../../state/confirmations.ts";
import { inTransaction, lockTarget, prepareState } from "../mutation.ts";
import {
  checkRequest,
  type MutationRequest,
  mutationRequest,
  type RequestPreview,
  requestTarget,
  resolveRequest,
} from "../requests.ts";
import type { Lifecycle } from "./lifecycle.ts";
import { cardState, refusalSentence, requestKind, viewOf } from "./record.ts";
import type { AccessDenial, Origin, RequestAnswer } from "./types.ts";

const whereOrigin = (origin: Origin) => ({
  channel: origin.channelId,
  messageTs: origin.threadTs,
  team: origin.teamId,
  id: null,
});

/**
 * May `origin.userId` ask for `request`? Null when yes; otherwise the denial the requester sees
 * (already audited and counted).
 */
export async function authorizeRequest(
  lc: Lifecycle,
  req: MutationRequest,
  origin: Origin,
): Promise<AccessDenial | null> {
  const decision = await lc.ports.access.decide(origin.userId);
  if (decision.allowed) return null;
  await lc.audit({
    actor: origin.userId,
    request: req,
    outcome: "refused",
    reason: decision.reason,
    where: whereOrigin(origin),
    details: { message: decision.message, step: "request" },
  });
  lc.count(req, "refused");
  lc.ports.logger.info("refused a mutation request", {
    kind: requestKind(req),
    user: origin.userId,
    reason: decision.reason,
  });
  return decision;
}

/** A pending card already asks for this: audited, answered privately with a link to that card. */
async function alreadyRequested(
  lc: Lifecycle,
  req: MutationRequest,
  preview: RequestPreview,
  pending: Confirmation,
  origin: Origin,
): Promise<RequestAnswer> {
  const permalink = pending.messageTs ? await lc.ports.cards.permalink(pending) : null;
  await lc.audit({
    actor: origin.userId,
    request: req,
    preview,
    outcome: "refused",
    reason: "already_requested",
    where: whereOrigin(origin),
    details: {
      step: "check",
      pending_confirmation_id: pending.id,
      requested_by: pending.requestedBy,
      permalink,
    },
  });
  lc.count(req, "refused");
  return {
    kind: "already_requested",
    pending: viewOf(pending),
    title: preview.title,
    permalink,
    schema: preview.schema,
  };
}

/** Check, preview, store and post the card; what the requester alone is told. */
export async function requestConfirmation(
  lc: Lifecycle,
  input: unknown,
  origin: Origin,
): Promise<RequestAnswer> {
  const { ctx, stateName } = lc;
  const where = whereOrigin(origin);
  const valid = mutationRequest.safeParse(input);
  if (!valid.success) {
    await lc.audit({
      actor: origin.userId,
      request: null,
      outcome: "refused",
      reason: "invalid_request",
      where,
    });
    lc.count(null, "refused");
    return { kind: "invalid_request" };
  }
  // A surface never chooses the ids a bulk retry acts on (not even in an audit row's count): the
  // resolution below does.
  const asked: MutationRequest =
    valid.data.kind === "bulk_retry" ? { ...valid.data, ids: undefined } : valid.data;
  const log = lc.ports.logger.child({
    kind: requestKind(asked),
    user: origin.userId,
    channel: origin.channelId,
  });

  const denial = await authorizeRequest(lc, asked, origin);
  if (denial) return { kind: "denied", denial };

  // `req` is the request sealed as it will be stored: what it acts on made explicit (a bulk
  // filter resolved to its ids, whatever ids the surface sent), with the preview its card shows.
  let req: MutationRequest = asked;
  let preview: RequestPreview;
  let step = "preview";
  try {
    ({ request: req, preview } = await resolveRequest(ctx, asked));
    // What the confirm would refuse is refused now, privately: no card for it.
    step = "check";
    await checkRequest(ctx, req);
  } catch (error) {
    if (!isOperatorError(error)) throw error;
    const { reason, message } = refusalSentence(error);
    await lc.audit({
      actor: origin.userId,
      request: req,
      outcome: "refused",
      reason,
      where,
      details: { message, step, ...(error instanceof RefusedError ? error.details : {}) },
    });
    lc.count(req, "refused");
    return { kind: "refused", error, schema: "schema" in req ? req.schema : null };
  }

  await prepareState(ctx);
  // One pending card per target: the lookup and the insert share a lock, so two requests at the
  // same moment (two replicas, a double click) cannot both post one.
  const target = requestTarget(ctx, req);
  const stored = await inTransaction(ctx, async (client) => {
    await lockTarget(client, "request", target);
    const pending = await findPendingFor(client, stateName, target);
    if (pending) return { pending, created: null };
    const created = await createConfirmation(client, stateName, {
      kind: req.kind,
      schema: preview.schema,
      request: { request: req, preview, target },
      requestedBy: origin.userId,
      teamId: origin.teamId,
      channelId: origin.channelId,
      threadTs: origin.threadTs,
      ttlSeconds: lc.ports.ttlSeconds,
    });
    return { pending: null, created };
  });
  if (stored.pending) return alreadyRequested(lc, req, preview, stored.pending, origin);
  const row = stored.created;
  // Audited before the card exists, so no click on it can be audited ahead of the request
  // (the card's ts is on the confirmation row and on every later audit row).
  await lc.audit({
    actor: origin.userId,
    request: req,
    preview,
    outcome: "requested",
    where: { ...where, id: row.id },
    details: {
      expires_at: row.expiresAt.toISOString(),
      thread_ts: origin.threadTs,
      effect: preview.effect,
    },
  });
  lc.count(req, "requested");
  const posted = await lc.ports.cards.post({
    id: row.id,
    channelId: origin.channelId,
    messageTs: null,
    threadTs: origin.threadTs,
    preview,
    state: cardState(row),
  });
  if (!posted.ok) {
    // Nobody can see it, so nobody may confirm it.
    await lc.db(claimConfirmation(ctx.db, stateName, row.id, "cancelled", origin.userId));
    await lc.audit({
      actor: origin.userId,
      request: req,
      preview,
      outcome: "refused",
      reason: "card_not_posted",
      where: { ...where, id: row.id },
      details: { slack_error: posted.reason },
    });
    lc.count(req, "refused");
    return { kind: "card_not_posted", slackError: posted.reason, schema: preview.schema };
  }
  await lc.db(attachMessage(ctx.db, stateName, row.id, posted.ts));
  log.info("posted a confirmation card", { confirmationId: row.id, ts: posted.ts });
  return { kind: "posted", confirmation: viewOf({ ...row, messageTs: posted.ts }), schema: preview.schema };
}
