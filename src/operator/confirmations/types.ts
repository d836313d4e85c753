// The confirmation workflow's vocabulary: who asks and clicks, what a card shows (a view model, not
// a table row), the ports a surface gives the workflow (cards, access, replay following), and the
// typed outcomes it renders.
import type { AccessDecision } from "../../core/access.ts";
import type { OperatorError } from "../../errors.ts";
import type { Logger } from "../../log.ts";
import type { Confirmation, ConfirmationStatus as StoredStatus } from "../../state/confirmations.ts";
import type { RequestOutcome, RequestPreview } from "../requests.ts";

export type ConfirmationStatus = StoredStatus;

/**
 * A confirmation as the surfaces see it: who asked, where its card is, how far it got; never the
 * stored request or its result (`viewOf` copies only these fields).
 */
export type ConfirmationView = Omit<Confirmation, "request" | "result">;

/** Where a request was made: who, in which workspace and channel, and the thread for the card. */
export interface Origin {
  userId: string;
  teamId: string | null;
  channelId: string;
  /** Post the card in this thread (a request button on a bot message in the channel). */
  threadTs: string | null;
}

/** A Confirm or Cancel click, as the payload states it (nothing here is trusted yet). */
export interface Click {
  decision: "confirm" | "cancel";
  value: unknown;
  userId: string;
  teamId: string | null;
  channelId: string | null;
  /** The ts of the message holding the button. */
  messageTs: string | null;
}

/** How an executed request ended: the operator's result, or why nothing (or not all) was done. */
export type Ending =
  | { kind: "executed"; result: RequestOutcome }
  | { kind: "not_done"; reason: string; message: string; nothingChanged: boolean };

/** What a card shows of its request's progress. */
export interface CardState {
  status: ConfirmationStatus;
  requestedBy: string;
  expiresAt: Date;
  decidedBy?: string | null;
  decidedAt?: Date | null;
  /** Set once an execution ended (or was found interrupted). */
  ending?: Ending | null;
  /** A bulk retry while it runs: ids done (replayed or skipped) of the total, and how many skipped. */
  progress?: { done: number; total: number; skipped: number } | null;
}

/** One card, in one state: what to render and where it is. */
export interface Card {
  id: string;
  channelId: string;
  /** Null until the card is posted (and when its ts could not be stored). */
  messageTs: string | null;
  threadTs: string | null;
  preview: RequestPreview;
  state: CardState;
}

/** A new job a confirmed retry inserted, to follow in the card's thread. */
export interface ReplayStarted {
  channel: string;
  threadTs: string;
  jobId: number;
  schema: string | null;
  /** When the execution started: Meilisearch tasks enqueued before it are not this job's. */
  startedAt: Date;
}

/** The new jobs a confirmed bulk retry inserted, to follow as a group in the card's thread. */
export interface ReplayGroupStarted {
  channel: string;
  threadTs: string;
  /** The NEW job ids (the bulk result's `replayed[].jobId`). */
  jobIds: number[];
  schema: string | null;
  /** When the execution started. */
  startedAt: Date;
  confirmationId: string;
}

/** The surface's side of a card: post it, edit it in place, link to it. */
export interface CardPort {
  /** Post a new card; the ts, or the reason the surface refused it. */
  post(card: Card): Promise<{ ok: true; ts: string } | { ok: false; reason: string }>;
  /** Edit a posted card in place; never throws (a card that cannot be edited is logged). */
  show(card: Card): Promise<void>;
  /** A link to a posted card, or null. Never throws. */
  permalink(card: Pick<Card, "id" | "channelId" | "messageTs">): Promise<string | null>;
}

export interface WorkflowPorts {
  cards: CardPort;
  /** May `userId` request (no `requestedBy`) or confirm what `requestedBy` asked for? */
  access: {
    decide(userId: string, options?: { requestedBy?: string | null }): Promise<AccessDecision>;
  };
  /** A confirmed retry inserted a job: follow it (in the background). */
  followReplay(replay: ReplayStarted): void;
  /** A confirmed bulk retry inserted jobs: follow them as a group (in the background). */
  followReplayGroup(group: ReplayGroupStarted): void;
  /** Count one step of the lifecycle (`kind` is the request's kind, or "unknown"). */
  count(kind: string, outcome: string): void;
  logger: Logger;
  /** How long a card waits for a Confirm. */
  ttlSeconds: number;
}

export type AccessDenial = Extract<AccessDecision, { allowed: false }>;

/** What the requester alone is told about a request. */
export type RequestAnswer =
  /** The input is no request at all. */
  | { kind: "invalid_request" }
  | { kind: "denied"; denial: AccessDenial }
  /** Refused before a card: the preview or the confirm's own checks said no. */
  | { kind: "refused"; error: OperatorError; schema: string | null }
  /** A pending card already asks for this one. */
  | {
      kind: "already_requested";
      pending: ConfirmationView;
      title: string;
      permalink: string | null;
      schema: string | null;
    }
  | { kind: "card_not_posted"; slackError: string; schema: string | null }
  /** The card is up; the requester needs no other answer. */
  | { kind: "posted"; confirmation: ConfirmationView; schema: string | null };

/** What the clicker alone is told about a Confirm or Cancel. */
export type ClickAnswer =
  /** The button names no request of this channel and workspace: nothing runs. */
  | { kind: "foreign"; reason: string }
  | { kind: "already_decided"; confirmation: ConfirmationView; schema: string | null }
  | { kind: "denied"; denial: AccessDenial }
  /** The click took the request: the card shows the rest. */
  | { kind: "taken"; schema: string | null };
