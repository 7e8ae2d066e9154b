/** A member's credits in one scope. `total` is what the next request can spend. */
export interface Balance {
  /** Today's allowance from the member's tier. */
  dailyAllowance: number;
  /** What is left of today's allowance (spent first). */
  allowanceLeft: number;
  /** Credits granted by admins; they never expire. */
  granted: number;
  total: number;
  /** Credits held by jobs still queued or rendering (already deducted from the figures above). */
  reserved: number;
  /** ms since epoch of the next 00:00 UTC, when the allowance resets. */
  resetsAt: number;
}

export type LedgerKind =
  | 'daily-allowance'
  | 'allowance-expired'
  | 'allowance-changed'
  | 'reserve'
  | 'commit'
  | 'refund'
  | 'grant';

/**
 * One change of a member's balance, appended to a Redis stream. The amounts of a member's entries
 * sum to the balance (`commit` entries carry 0: the credits left at `reserve`).
 */
export interface LedgerEntry {
  id: string;
  at: number;
  kind: LedgerKind;
  amount: number;
  /** Balance after this entry. */
  balance: number;
  jobId?: string;
  /** Who caused it: the member, or the admin who granted. */
  by: string;
  reason: string;
}
