import type { NsfwVerdict } from '../queue/job-data.ts';
import type { NsfwPolicy } from '../quotas/quota-policy.ts';

/**
 * What delivery does with one image, on every platform, decided per image from the safety
 * checker's verdict, the scope's NSFW policy and whether the channel may show such images (Discord:
 * age-restricted, a thread following its parent; Slack: marked by the workspace's admins).
 * - `block`: a flagged image is blanked (Discord posts a blank image, Slack leaves it out);
 * - `spoiler`: a flagged image is sent behind a spoiler; a platform without spoilers (Slack) shows
 *   it only where the channel may, and blanks it elsewhere;
 * - `allow-in-nsfw-channels`: shown as is where the channel may, blanked elsewhere.
 */
export type ImageTreatment = 'show' | 'spoiler' | 'blank';

export function imageTreatment(
  verdict: NsfwVerdict | null,
  policy: NsfwPolicy,
  channelNsfw: boolean,
  platform: { spoilers: boolean } = { spoilers: true },
): ImageTreatment {
  if (!verdict?.nsfw) return 'show';
  switch (policy) {
    case 'block':
      return 'blank';
    case 'spoiler':
      if (platform.spoilers) return 'spoiler';
      return channelNsfw ? 'show' : 'blank';
    case 'allow-in-nsfw-channels':
      return channelNsfw ? 'show' : 'blank';
  }
}
