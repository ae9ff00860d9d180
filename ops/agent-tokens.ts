/**
 * What Plane's database says of each agent's token (its row in api_tokens, found by the value in the
 * agent's Secret, passed as a query parameter and never printed): when it expires, when it was last
 * used, and whether a replaced token still works beside it (the rotation's overlap).
 */
import { Client } from 'pg';
import { CheckResult, fail, pass, warn } from './report';

/** verify warns this many days before a token expires; the rotation comes earlier (users.tokens.rotation.daysBeforeExpiry ≥ 15). */
export const EXPIRY_WARNING_DAYS = 14;

export interface TokenState {
  readonly active: boolean;
  readonly createdAt: Date;
  readonly expiresAt: Date | null;
  readonly lastUsed: Date | null;
  /** When the latest of the agent's replaced tokens that still work stops (the overlap), if any. */
  readonly previousWorksUntil: Date | null;
}

/** The row of `token` (null when Plane does not have it) and the end of any overlapping older token of the same label. */
export async function readTokenState(client: Client, token: string): Promise<TokenState | null> {
  const { rows } = await client.query(
    `select t.is_active as active, t.created_at as "createdAt", t.expired_at as "expiresAt", t.last_used as "lastUsed",
            (select max(o.expired_at) from api_tokens o
              where o.label = t.label and o.id <> t.id and o.is_active and o.deleted_at is null and o.expired_at > now()) as "previousWorksUntil"
       from api_tokens t where t.token = $1 and t.deleted_at is null`,
    [token],
  );
  return rows.length ? (rows[0] as TokenState) : null;
}

const day = 86_400_000;
const minute = (date: Date) => date.toISOString().slice(0, 16).replace('T', ' ');

function ago(date: Date, now: Date): string {
  const minutes = Math.round((now.getTime() - date.getTime()) / 60_000);
  if (minutes < 60) return `${Math.max(minutes, 0)} min ago`;
  if (minutes < 48 * 60) return `${Math.round(minutes / 60)} h ago`;
  return `${Math.round(minutes / 1440)} days ago`;
}

/**
 * One agent's token, judged: fails when Plane does not have it or it no longer works, warns within
 * EXPIRY_WARNING_DAYS of its expiry, passes otherwise; the detail always says its last use.
 */
export function judgeTokenState(
  agentId: string,
  state: TokenState | null,
  fixes: { readonly provisioning: string; readonly rotate: string },
  now = new Date(),
): CheckResult {
  const id = `token-lifetime/${agentId}`;
  if (!state) return fail(id, "Plane has no row for the token in the agent's Secret", fixes.provisioning);
  const used = state.lastUsed ? `last used ${minute(state.lastUsed)} UTC (${ago(state.lastUsed, now)})` : 'never used';
  const overlap = state.previousWorksUntil ? `; the token it replaced works until ${minute(state.previousWorksUntil)} UTC` : '';
  if (!state.active) return fail(id, `the token in the agent's Secret is inactive in Plane; ${used}`, fixes.provisioning);
  if (!state.expiresAt) return pass(id, `never expires; ${used}${overlap}`);
  const daysLeft = (state.expiresAt.getTime() - now.getTime()) / day;
  const expires = `expires ${minute(state.expiresAt)} UTC`;
  if (daysLeft <= 0) return fail(id, `expired ${minute(state.expiresAt)} UTC: Plane refuses it; ${used}`, fixes.rotate);
  if (daysLeft <= EXPIRY_WARNING_DAYS)
    return warn(id, `${expires}, in ${Math.floor(daysLeft)} days: it has not been rotated; ${used}${overlap}`, fixes.rotate);
  return pass(id, `${expires} (${Math.floor(daysLeft)} days); ${used}${overlap}`);
}
