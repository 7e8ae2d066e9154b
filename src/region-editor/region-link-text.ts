/** The private answer to a Vary (Region) press, on every platform; `link` is in the platform's markup. */
export function regionLinkText(index: number, link: string): string {
  return (
    `Paint the part of image ${index + 1} to change, in your browser: ${link}\n` +
    'The link is yours alone: it works once, for 15 minutes, and the job is charged to you.'
  );
}
