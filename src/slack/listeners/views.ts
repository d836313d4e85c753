// Modal submissions. The hot-apply form is checked before the ack (its shape without I/O, then a
// bounded read of the live values): a problem, or a request that changes nothing, is shown under the
// field and the modal stays open; a good submission closes it and becomes a card.
import type { App, SlackViewMiddlewareArgs, ViewSubmitAction } from "@slack/bolt";
import { HOT_APPLY_CALLBACK, SETTINGS_BLOCK } from "../../../views/settingsModal.ts";
import { acknowledge } from "./ack.ts";
import { type ListenerDeps, tracked } from "./deps.ts";

export type SubmitArgs = Pick<SlackViewMiddlewareArgs<ViewSubmitAction>, "ack" | "body" | "view">;

export function hotApplySubmission(deps: ListenerDeps) {
  return async ({ ack, body, view }: SubmitArgs): Promise<void> => {
    const fields = { view: HOT_APPLY_CALLBACK, user: body.user.id };
    const checked = deps.mutations.hotApply.check(view);
    if (!checked.ok) {
      await acknowledge(
        () => ack({ response_action: "errors", errors: { [SETTINGS_BLOCK]: checked.error } }),
        deps.logger,
        fields,
      );
      return;
    }
    // Bounded well inside the 3 s ack: a request that changes nothing stays in the modal.
    const same = await deps.mutations.hotApply.unchanged(checked);
    if (same) {
      await acknowledge(
        () => ack({ response_action: "errors", errors: { [SETTINGS_BLOCK]: same } }),
        deps.logger,
        fields,
      );
      return;
    }
    await acknowledge(() => ack(), deps.logger, fields);
    const work = deps.mutations.hotApply
      .submit(checked, body.user.id, body.team?.id ?? body.user.team_id ?? null)
      .catch((error: unknown) => {
        deps.metrics.unexpectedErrors.inc({ where: "view" });
        deps.logger.error("could not turn a hot-apply submission into a card", { ...fields, error });
      });
    await tracked(deps, work);
  };
}

export function register(app: App, deps: ListenerDeps): void {
  app.view<ViewSubmitAction>(HOT_APPLY_CALLBACK, hotApplySubmission(deps));
}
