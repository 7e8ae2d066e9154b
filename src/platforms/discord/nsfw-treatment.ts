import type { NsfwPolicy } from '../../quotas/quota-policy.ts';
import type { ImageTreatment } from '../image-treatment.ts';

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
