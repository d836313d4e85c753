// Scrypath.index_contract_drift/2 (§2.5, §6): one GET settings of the live index compared with
// the contract the schema declares, on five dimensions.
import { getSettings } from "../backends/meilisearch.ts";
import { compareContract } from "../core/contractDrift.ts";
import type { ContractDriftReport, SchemaContract } from "../core/types.ts";
import { OperatorError } from "../errors.ts";
import { meiliRead } from "./bounded.ts";
import { type OperatorContext, type ResolvedSchema, resolveSchema } from "./context.ts";

export function contractOf(schema: ResolvedSchema): SchemaContract {
  if (!schema.config.contract) {
    throw new OperatorError(
      "no_contract",
      `no contract is configured for ${schema.module}; add schemas[].contract (fields, filterable, sortable, faceting, settings) to the config`,
    );
  }
  return schema.config.contract;
}

export async function contractDriftOf(
  ctx: OperatorContext,
  schema: ResolvedSchema,
): Promise<ContractDriftReport> {
  const contract = contractOf(schema);
  const applied = await meiliRead(ctx, () => getSettings(ctx.meili, schema.liveIndex));
  return compareContract({ schema: schema.module, index: schema.liveIndex, contract, applied });
}

export async function indexContractDrift(
  ctx: OperatorContext,
  schemaRef: string,
): Promise<ContractDriftReport> {
  return contractDriftOf(ctx, resolveSchema(ctx, schemaRef));
}
