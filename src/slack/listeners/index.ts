// Every listener, registered per kind as in Slack's bolt-ts-starter-template.
import type { App } from "@slack/bolt";
import * as actions from "./actions.ts";
import * as alerts from "./alerts.ts";
import * as alertThread from "./alertThread.ts";
import * as commands from "./commands.ts";
import * as confirmations from "./confirmations.ts";
import type { ListenerDeps } from "./deps.ts";
import * as views from "./views.ts";

export type { ListenerDeps, Mutations } from "./deps.ts";

export function registerListeners(app: App, deps: ListenerDeps): void {
  commands.register(app, deps);
  confirmations.register(app, deps);
  alerts.register(app, deps);
  alertThread.register(app, deps);
  actions.register(app, deps);
  views.register(app, deps);
}
