// Settings read and diff (§2.6, §8.6): declared-vs-applied for the declared wire keys only.
import { getSettings } from "../backends/meilisearch.ts";
import { computeSettingsDrift, resolveDeclaredSettings, toWire } from "../core/settings.ts";
import type { SettingsDetail } from "../core/types.ts";
import { type OperatorContext, resolveSchema } from "./context.ts";
import { contractOf } from "./contractDrift.ts";

export interface SettingsDiff {
  schema: string;
  index: string;
  status: "parity" | "drift";
  declared: Record<string, unknown>;
  applied: Record<string, unknown>;
  drift: SettingsDetail[];
}

export async function settingsDiff(ctx: OperatorContext, schemaRef: string): Promise<SettingsDiff> {
  const schema = resolveSchema(ctx, schemaRef);
  const declared = toWire(resolveDeclaredSettings(contractOf(schema)));
  const applied = await getSettings(ctx.meili, schema.liveIndex);
  const drift = computeSettingsDrift(declared, applied);
  return {
    schema: schema.module,
    index: schema.liveIndex,
    status: drift.length ? "drift" : "parity",
    declared,
    applied,
    drift,
  };
}

export interface SettingsRead {
  schema: string;
  index: string;
  settings: Record<string, unknown>;
}

export async function settingsRead(ctx: OperatorContext, schemaRef: string): Promise<SettingsRead> {
  const schema = resolveSchema(ctx, schemaRef);
  return {
    schema: schema.module,
    index: schema.liveIndex,
    settings: await getSettings(ctx.meili, schema.liveIndex),
  };
}
