import type { FakeMessage } from '../../fakes/slack/fake-slack.ts';
import type { SlackHarness } from './slack-harness.ts';

/** A button as a member sees it in a Slack message: its label and the action id it sends. */
export interface Button {
  label: string;
  actionId: string;
}

export function buttonsOf(message: FakeMessage | undefined): Button[] {
  const blocks = (message?.blocks ?? []) as {
    type: string;
    elements?: { action_id?: string; text?: { text: string } }[];
  }[];
  return blocks
    .filter((b) => b.type === 'actions')
    .flatMap((b) => b.elements ?? [])
    .map((e) => ({ label: e.text?.text ?? '', actionId: e.action_id ?? '' }));
}

/** Waits for the n-th message with files in a thread, and the buttons message after it. */
export function resultInThread(
  h: SlackHarness,
  channel: string,
  threadTs: string,
  n: number,
): Promise<{ image: FakeMessage; buttons: FakeMessage }> {
  return h.fake.waitFor(
    () => {
      const thread = h.fake.thread(channel, threadTs);
      const image = thread.filter((m) => m.files.length > 0)[n - 1];
      const buttons = thread.filter(
        (m) => m.files.length === 0 && buttonsOf(m).some((b) => b.label !== 'Cancel'),
      )[n - 1];
      return image && buttons ? { image, buttons } : undefined;
    },
    45_000,
    `result ${n} in the thread`,
  );
}
