import type { AdminTask, ArgumentExpected, Refusal } from './refusal.ts';

/** How a platform shows text the member (or an admin) wrote inside a sentence of easel's. */
export interface RefusalMarkup {
  literal(text: string): string;
}

/** The REST API, the CLI and the logs: text as typed. */
const PLAIN: RefusalMarkup = { literal: (text) => text };

const RUN_AGAIN = 'run /imagine again to get working buttons';

/**
 * The sentence a member reads for a refusal, in the given platform's markup (plain by default).
 * Whatever someone typed goes through `markup.literal`; easel's own words (command names, setting
 * names from its catalogue) do not.
 */
export function refusalText(refusal: Refusal, markup: RefusalMarkup = PLAIN): string {
  const quote = (text: string) => quoted(text, markup);
  switch (refusal.reason) {
    case 'suspended':
      return `You are suspended from generating images in this ${refusal.scopeNoun}.`;
    case 'rate-limited':
      // The hosted APIs' spam filter: the same request again within the duplicate window.
      return `Rate limit exceeded: you just sent this same request; try again in ${plural(refusal.seconds, 'second')}, or change the prompt.`;
    case 'cooldown':
      return `You're on cooldown: try again in ${plural(refusal.seconds, 'second')}.`;
    case 'pending-cap':
      return `You already have ${plural(refusal.jobs, 'job')} waiting or rendering, the most allowed; try again when one finishes.`;
    case 'scope-budget':
      return `This ${refusal.scopeNoun} has used its daily image budget; it resets in ${duration(refusal.seconds)} (00:00 UTC).`;
    case 'banned-word':
      return `Your prompt contains a word not allowed in this ${refusal.scopeNoun}: ${quote(refusal.word)}.`;
    case 'over-limits': {
      if (refusal.limit === 'steps') return `steps: your tier allows at most ${refusal.max} steps.`;
      const side = Math.floor(Math.sqrt(refusal.max));
      return `size: your tier allows images of at most ${refusal.max.toLocaleString('en-US')} pixels (about ${side}x${side}).`;
    }
    case 'insufficient-credits': {
      const reset =
        refusal.resetSeconds !== undefined
          ? ` Your daily allowance resets in ${duration(refusal.resetSeconds)} (00:00 UTC).`
          : '';
      return `Not enough credits: this costs ${plural(refusal.cost, 'credit')} and you have ${plural(refusal.have, 'credit')}.${reset}`;
    }
    case 'not-admin': {
      const admins = `Only this ${refusal.scopeNoun}'s admins${refusal.permission ? ` (${refusal.permission})` : ''}`;
      return `${admins} ${adminTaskText(refusal.task)}.`;
    }
    case 'broken-button':
      return brokenButtonText(refusal, markup);
    case 'job-gone': {
      const kept =
        refusal.retentionHours !== undefined ? plural(refusal.retentionHours, 'hour') : 'for a limited time';
      return `That job is gone (results are kept ${kept}); run /imagine again.`;
    }
    case 'other-scope-job':
      return `That button belongs to a job of another ${refusal.scopeNoun}. Nothing was queued.`;
    case 'job-unfinished':
      if (refusal.state === 'rendering') {
        return 'That job is still rendering; its buttons work once its images are posted.';
      }
      return refusal.state === 'failed'
        ? 'That job has no images to work on: it did not finish.'
        : 'That job has no images to work on: it has not finished, or it failed.';
    case 'no-such-image':
      return `That job has no image ${refusal.image}; it has ${refusal.count}.`;
    case 'region-editor-off':
      return 'Vary (Region) needs the web page the REST API serves, and this deployment has the API turned off; use Inpaint instead.';
    case 'confirmation-gone':
      return 'This confirmation has expired or was already answered; run /imagine again. Nothing was queued.';
    case 'not-your-confirmation':
      return 'This confirmation belongs to someone else.';
    case 'no-such-job':
      return `There is no job ${markup.literal(refusal.jobId)}.`;
    case 'not-your-job':
      return 'You can only cancel your own jobs.';
    case 'job-finished':
      return 'That job has already finished.';
    case 'job-ended':
      return 'That job was already cancelled or has failed; nothing was charged.';
    case 'unknown-operation':
      return `Unknown operation ${quote(refusal.typed)}.`;
    case 'unknown-setting':
      return refusal.typed === ''
        ? `set: name a setting: ${refusal.known.join(', ')}`
        : `unknown setting ${quote(refusal.typed)}: use ${refusal.known.join(', ')}`;
    case 'not-whole-number': {
      const meaning = refusal.meaning ? `, the ${refusal.meaning}` : '';
      return `${refusal.setting}: expected a whole number${meaning}, got ${quote(refusal.typed)}`;
    }
    case 'unknown-choice':
      return `${refusal.setting}: expected one of ${refusal.choices.join(', ')}, got ${quote(refusal.typed)}`;
    case 'out-of-range': {
      const unit = refusal.unit ? ` of ${refusal.unit}` : '';
      return `${refusal.setting} must be a whole number${unit} from ${refusal.min} to ${refusal.max} (got ${markup.literal(refusal.got)})`;
    }
    case 'too-many':
      return `${refusal.setting}: at most ${refusal.max} ${refusal.unit} per scope`;
    case 'bad-banned-word':
      return `bannedWords: each entry must have 1 to 100 characters with at least one letter or digit (got ${markup.literal(refusal.got)})`;
    case 'bad-id':
      return `${refusal.setting}: ids must have 1 to ${refusal.max} characters (got ${markup.literal(refusal.got)})`;
    case 'missing-argument':
      return `${refusal.operation}: ${argumentText(refusal.expected)}${refusal.typed !== undefined ? ` (got ${quote(refusal.typed)})` : ''}`;
    case 'nothing-to-set':
      return `${refusal.operation}: give at least one of ${refusal.names.join(', ')}`;
    case 'setting-misplaced':
      return refusal.appliesTo === 'scope'
        ? `${refusal.setting}: applies to the whole ${refusal.scopeNoun}; leave out role`
        : `${refusal.setting}: set it for a role (give role)`;
    case 'unknown-member':
      return `${markup.literal(refusal.member)} has not used easel in this ${refusal.scopeNoun} yet, so there is no one to grant credits to.`;
    case 'not-a-setting':
      return `${quote(refusal.typed)} is not a setting; give flags such as --ar 16:9 --n 4 --remix on`;
    case 'per-prompt-flag':
      return `${markup.literal(refusal.flag)}: is not a setting (it changes with every prompt)`;
  }
}

function brokenButtonText(
  refusal: Extract<Refusal, { reason: 'broken-button' }>,
  markup: RefusalMarkup,
): string {
  switch (refusal.problem) {
    case 'unknown':
      return `This button is not one easel knows; ${RUN_AGAIN}.`;
    case 'unknown-form':
      return `This form is not one easel knows; ${RUN_AGAIN}.`;
    case 'names-no-job':
      return `This button names no valid job; ${RUN_AGAIN}.`;
    case 'malformed':
      return `This button is malformed; ${RUN_AGAIN}.`;
    case 'other-version':
      return `This button comes from another version of easel (${markup.literal(refusal.version)}); ${RUN_AGAIN}.`;
    case 'unknown-action':
      return `This button has an action easel does not know (${quoted(refusal.code, markup)}); ${RUN_AGAIN}.`;
    case 'bad-image':
      return `This button names no valid image (${quoted(refusal.index, markup)}); ${RUN_AGAIN}.`;
  }
}

function adminTaskText(task: AdminTask | undefined): string {
  if (task === undefined) return 'can do that';
  if ('command' in task) return `can use ${task.command}`;
  return "change everyone's defaults; you can change your own";
}

function argumentText(expected: ArgumentExpected): string {
  switch (expected) {
    case 'words':
      return 'needs a word or phrase';
    case 'words-to-add-or-remove':
      return 'give words to add or remove (comma-separated)';
    case 'member':
      return 'needs one member, as @mention';
    case 'member-first':
      return 'needs a member as @mention first';
    case 'credits-after-member':
      return 'needs a whole number of credits after the member';
  }
}

/** Text someone typed, in quotes, as the platform shows text literally. */
function quoted(text: string, markup: RefusalMarkup): string {
  return `"${markup.literal(text)}"`;
}

function plural(n: number, unit: string): string {
  return `${n} ${unit}${n === 1 ? '' : 's'}`;
}

function duration(seconds: number): string {
  const minutes = Math.max(1, Math.ceil(seconds / 60));
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  if (h === 0) return plural(m, 'minute');
  return m === 0 ? plural(h, 'hour') : `${h} h ${m} min`;
}
