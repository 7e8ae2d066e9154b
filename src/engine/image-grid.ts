import sharp from 'sharp';

/**
 * Several PNGs side by side in a grid: 2 columns, as many rows as needed (2x2 for four), each cell
 * the size of the largest picture, with a thin gap. Returns the PNG and its size.
 */
export async function gridPng(
  pngs: readonly { bytes: Buffer; width: number; height: number }[],
  gap = 4,
): Promise<{ bytes: Buffer; width: number; height: number }> {
  const columns = Math.min(2, pngs.length);
  const rows = Math.ceil(pngs.length / columns);
  const cellW = Math.max(...pngs.map((p) => p.width));
  const cellH = Math.max(...pngs.map((p) => p.height));
  const width = columns * cellW + (columns - 1) * gap;
  const height = rows * cellH + (rows - 1) * gap;
  const bytes = await sharp({ create: { width, height, channels: 3, background: '#ffffff' } })
    .composite(
      pngs.map((p, i) => ({
        input: p.bytes,
        left: (i % columns) * (cellW + gap),
        top: Math.floor(i / columns) * (cellH + gap),
      })),
    )
    .png({ compressionLevel: 6 })
    .toBuffer();
  return { bytes, width, height };
}
