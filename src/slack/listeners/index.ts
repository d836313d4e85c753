// Every listener, registered per kind as in Slack's bolt-ts-starter-template.
import type { App } from "@slack/bolt";
import * as actions from "./actions.ts";
import * as commands from "./commands.ts";
import type { ListenerDeps } from "./deps.ts";

export type { ListenerDeps } from "./deps.ts";

export function registerListeners(app: App, deps: ListenerDeps): void {
  commands.register(app, deps);
  actions.register(app, deps);
}
