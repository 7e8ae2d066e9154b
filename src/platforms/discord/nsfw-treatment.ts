import type { NsfwVerdict } from '../../queue/job-data.ts';
import type { NsfwPolicy } from '../../quotas/quota-policy.ts';

/**
 * What delivery does with one image, decided per image from the safety checker's verdict, the
 * server's NSFW policy and whether the channel is age-restricted (for a thread: its parent).
 * - `block`: a flagged image becomes a blank image with a notice;
 * - `spoiler`: a flagged image is sent behind a spoiler (`SPOILER_` file name);
 * - `allow-in-nsfw-channels`: shown as is in age-restricted channels, blocked elsewhere.
 */
export type ImageTreatment = 'show' | 'spoiler' | 'blank';

export function imageTreatment(
  verdict: NsfwVerdict | null,
  policy: NsfwPolicy,
  channelNsfw: boolean,
): ImageTreatment {
  if (!verdict?.nsfw) return 'show';
  switch (policy) {
    case 'block':
      return 'blank';
    case 'spoiler':
      return 'spoiler';
    case 'allow-in-nsfw-channels':
      return channelNsfw ? 'show' : 'blank';
  }
}

/** The line told to members when images were hidden or spoilered. */
export function treatmentNotice(treatments: ImageTreatment[], policy: NsfwPolicy): string | undefined {
  const numbers = (t: ImageTreatment) => treatments.flatMap((x, i) => (x === t ? [i + 1] : [])).join(', ');
  const lines: string[] = [];
  const blanked = numbers('blank');
  if (blanked) {
    const why =
      policy === 'allow-in-nsfw-channels'
        ? 'this server shows such images only in age-restricted channels'
        : 'this server blocks them';
    lines.push(
      `🔞 Image ${blanked} was flagged by the safety checker and replaced by a blank image (${why}).`,
    );
  }
  const spoilered = numbers('spoiler');
  if (spoilered)
    lines.push(`🔞 Image ${spoilered} was flagged by the safety checker and is behind a spoiler.`);
  return lines.length ? lines.join('\n') : undefined;
}
