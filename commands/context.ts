// The view context every command passes to its views.
import type { ViewContext } from "../views/types.ts";
import type { CommandDeps } from "./types.ts";

export function viewContext(deps: CommandDeps, sharedBy: string | null = null): ViewContext {
  return { now: deps.now(), dashboardLinks: deps.config.slack.dashboardLinks, sharedBy };
}
