// `/scrypath settings hot-apply <schema>`: the modal. Its trigger_id expires 3 s after the command,
// so the modal opens in its loading state right after the ack and is then filled with the live
// values (views.update). A submission is checked at once (bad JSON, refused keys → errors under
// the field); a good one closes the modal and becomes a confirmation card in the channel.
import { setTimeout as sleep } from "node:timers/promises";
import { z } from "zod";
import type { CommandResult } from "../../commands/index.ts";
import type { ModalRequest } from "../../commands/types.ts";
import { backendErrorView } from "../../views/errors.ts";
import {
  hotApplyModal,
  type LiveHotApplySettings,
  parseHotApplyInput,
  SETTINGS_BLOCK,
  SETTINGS_INPUT,
} from "../../views/settingsModal.ts";
import { toWire } from "../core/settings.ts";
import { settingsChanges } from "../core/settingsDiff.ts";
import { isOperatorError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { Origin } from "../operator/confirmations/index.ts";
import type { Operator } from "../operator/index.ts";
import { withTimeout } from "../timeout.ts";
import { silentResult } from "./answer.ts";
import type { Chat } from "./chat.ts";
import type { Confirmations } from "./confirmations.ts";

/** How long opening the modal waits for the access decision before showing the loading state. */
const ACCESS_WAIT_MS = 1_000;

/**
 * How long a submission waits for the live values before its ack (Slack closes the modal after
 * 3 s). When they are not read in time the request goes ahead: its preview refuses a no-op too.
 */
export const NO_CHANGE_READ_MS = 1_500;

/** The modal's answer to a submission that would change nothing. */
export const NO_CHANGE_MESSAGE =
  "These are the live values already: nothing would change. Edit a value, or cancel.";

/** What the modal carries to its submission (a view submission has no channel of its own). */
const metadata = z
  .object({
    schema: z.string().min(1).max(200),
    index: z.string().min(1).max(400),
    channel: z.string().regex(/^[CGD][A-Z0-9]{1,30}$/),
    team: z.string().max(40).nullable(),
    thread: z
      .string()
      .regex(/^[0-9]{1,12}\.[0-9]{1,8}$/)
      .nullable(),
  })
  .strict();
type Metadata = z.infer<typeof metadata>;

export interface HotApplyFormDeps {
  operator: Operator;
  chat: Chat;
  confirmations: Confirmations;
  logger: Logger;
}

export type Submission =
  | { ok: true; metadata: Metadata; settings: Record<string, unknown> }
  | { ok: false; error: string };

export interface HotApplyForm {
  /** Opens the modal for a command; the result is what the requester sees besides it. */
  open(modal: ModalRequest, triggerId: string, origin: Origin): Promise<CommandResult>;
  /** Checks a submission without I/O (it must be answered within 3 s). */
  check(view: { private_metadata?: string; state?: { values?: unknown } }): Submission;
  /**
   * The modal's error when a checked submission equals the live values (read within
   * NO_CHANGE_READ_MS); null when it changes something, or when the live values were not read in time.
   */
  unchanged(submission: Extract<Submission, { ok: true }>): Promise<string | null>;
  /** A checked submission → a confirmation card (or an ephemeral note saying why not). */
  submit(submission: Extract<Submission, { ok: true }>, userId: string, teamId: string | null): Promise<void>;
}

function pickLive(settings: Record<string, unknown>): LiveHotApplySettings {
  return {
    synonyms: settings.synonyms,
    stopWords: settings.stopWords,
    typoTolerance: settings.typoTolerance,
  };
}

export function createHotApplyForm(deps: HotApplyFormDeps): HotApplyForm {
  const { chat, logger } = deps;

  return {
    async open(modal, triggerId, origin) {
      // The command resolved it already (an unknown schema never gets here).
      const { module: schema, liveIndex: index } = deps.operator.resolveSchema(modal.schema);
      const privateMetadata = JSON.stringify({
        schema,
        index,
        channel: origin.channelId,
        team: origin.teamId,
        thread: origin.threadTs,
      } satisfies Metadata);
      const view = (live: LiveHotApplySettings | null, error: string | null = null) =>
        hotApplyModal({ schema, index, live, privateMetadata, error });

      // Usually instant (listed users, cached groups): a refused user sees no modal at all.
      const verdict = deps.confirmations.authorize(
        { kind: "hot_apply", schema, settings: {} },
        origin,
        "settings",
      );
      const early = await Promise.race([verdict, sleep(ACCESS_WAIT_MS, undefined, { ref: false })]);
      if (early) return early;

      let viewId: string;
      try {
        const opened = await chat.call<{ view?: { id?: string } }>(
          "views.open",
          { trigger_id: triggerId, view: view(null) },
          { maxAttempts: 1 },
        );
        viewId = opened.view?.id ?? "";
      } catch (error) {
        const reason = (error as { reason?: string }).reason ?? "slack_error";
        logger.warn("could not open the hot-apply modal", { reason });
        return {
          share: false,
          verb: "settings",
          schema,
          outcome: "error",
          message: backendErrorView(
            {
              message: `Slack did not open the settings form (${reason}); run the command again`,
              backend: null,
              code: "slack",
            },
            { verb: "settings hot-apply", schema },
          ),
        };
      }
      const update = (v: ReturnType<typeof view>) =>
        chat.call("views.update", { view_id: viewId, view: v }).catch((error: unknown) => {
          logger.warn("could not update the hot-apply modal", { error });
        });

      if (early === undefined) {
        const late = await verdict;
        if (late) {
          await update(view(null, late.message.text));
          return late;
        }
      }
      try {
        const read = await deps.operator.settingsRead(schema);
        await update(view(pickLive(read.settings)));
      } catch (error) {
        if (!isOperatorError(error)) throw error;
        await update(view(null, `The live settings could not be read: ${error.message}`));
      }
      return silentResult("settings", schema);
    },

    check(view) {
      let meta: Metadata;
      try {
        meta = metadata.parse(JSON.parse(view.private_metadata ?? ""));
      } catch {
        return {
          ok: false,
          error: "This form is not valid any more; run /scrypath settings hot-apply again.",
        };
      }
      const values = view.state?.values as Record<string, Record<string, { value?: unknown }>> | undefined;
      const text = values?.[SETTINGS_BLOCK]?.[SETTINGS_INPUT]?.value;
      const parsed = parseHotApplyInput(typeof text === "string" ? text : "");
      return parsed.ok ? { ok: true, metadata: meta, settings: parsed.settings } : parsed;
    },

    async unchanged(submission) {
      const read = deps.operator
        .settingsRead(submission.metadata.schema)
        .then((r) => r.settings)
        .catch((error: unknown) => {
          logger.info("could not read the live settings before a hot-apply submission's ack", { error });
          return null;
        });
      const live = await withTimeout(read, NO_CHANGE_READ_MS, () => null);
      if (!live) return null;
      return settingsChanges(live, toWire(submission.settings)).length === 0 ? NO_CHANGE_MESSAGE : null;
    },

    async submit(submission, userId, teamId) {
      const { metadata: meta, settings } = submission;
      const origin: Origin = {
        userId,
        teamId: teamId ?? meta.team,
        channelId: meta.channel,
        threadTs: meta.thread,
      };
      const result = await deps.confirmations.request(
        { kind: "hot_apply", schema: meta.schema, settings },
        origin,
        "settings",
      );
      if (result.silent) return;
      // A view submission has no response_url: the refusal goes to the requester in the channel.
      await chat
        .ephemeral(meta.channel, userId, result.message, { threadTs: meta.thread })
        .catch((error: unknown) => {
          logger.warn("could not tell the requester why the hot-apply was not requested", { error });
        });
    },
  };
}
