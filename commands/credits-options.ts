import type { CommandSchema } from './option-schema.ts';

/** `credits` takes no options: it shows the member's own balance and history. */
export const CREDITS_COMMAND: CommandSchema = {
  name: 'credits',
  description: 'Your credits: balance, daily allowance and when it resets, pending jobs, history',
};
