// Types of render.js (plain JavaScript served to the page as is), for the TypeScript tests.
export interface RenderContext {
  users?: Record<string, string>;
  channels?: Record<string, string>;
  groups?: Record<string, string>;
  now?: Date;
  /** Input block errors by block_id (`response_action: errors`). */
  errors?: Record<string, string>;
  /** Typed values by block_id → action_id, kept across re-renders. */
  values?: Record<string, Record<string, string>>;
  /** false renders buttons disabled. */
  interactive?: boolean;
}
export const EMOJI: Record<string, string>;
export function escapeHtml(text: unknown): string;
export function decodeEntities(text: unknown): string;
export function formatSlackDate(unixSeconds: number, template: string, now?: Date): string | null;
export function mrkdwn(source: unknown, ctx?: RenderContext): string;
export function plainText(object: unknown): string;
export function textObject(object: unknown, ctx?: RenderContext): string;
export function renderBlock(block: unknown, i: number, ctx?: RenderContext): string;
export function renderBlocks(blocks: unknown, ctx?: RenderContext): string;
