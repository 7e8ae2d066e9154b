import sharp from 'sharp';
import type { RgbImage } from '../../src/engine/image-io.ts';

/** Skin tones (the Fitzpatrick-like swatches classifiers are most easily confused by). */
const SKIN = ['#ffdbac', '#f1c27d', '#e0ac69', '#c68642', '#8d5524'];

async function fromSvg(svg: string, width: number, height: number): Promise<RgbImage> {
  const { data, info } = await sharp(Buffer.from(svg))
    .resize(width, height, { fit: 'fill' })
    .flatten({ background: '#ffffff' })
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

function seededNoise(width: number, height: number, seed: number, palette?: string[]): RgbImage {
  let state = seed >>> 0;
  const next = () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
  const colours = palette?.map((hex) => [1, 3, 5].map((i) => Number.parseInt(hex.slice(i, i + 2), 16)));
  const data = Buffer.alloc(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    const base = colours?.[Math.floor(next() * colours.length)];
    for (let c = 0; c < 3; c++) {
      data[i * 3 + c] = base
        ? Math.max(0, Math.min(255, base[c]! + Math.round((next() - 0.5) * 40)))
        : Math.floor(next() * 256);
    }
  }
  return { data, width, height };
}

/**
 * Two dozen pictures made here to compare easel's classifier with nsfwjs's: skin-tone fields, shaded
 * "renders", line drawings, scenes, noise, at sizes that do and do not need resizing. Nothing explicit.
 */
export async function screeningPictures(): Promise<{ name: string; image: RgbImage }[]> {
  const out: { name: string; image: RgbImage }[] = [];
  for (const [i, tone] of SKIN.entries()) {
    const size = i % 2 === 0 ? [224, 224] : [300, 200];
    out.push({
      name: `skin field ${tone}`,
      image: await fromSvg(
        `<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10" fill="${tone}"/></svg>`,
        size[0]!,
        size[1]!,
      ),
    });
  }
  for (const [i, tone] of SKIN.entries()) {
    out.push({
      name: `shaded sphere ${tone}`,
      image: await fromSvg(
        `<svg xmlns="http://www.w3.org/2000/svg" width="256" height="256"><defs><radialGradient id="g" cx="0.35" cy="0.35" r="0.7"><stop offset="0" stop-color="#ffffff"/><stop offset="0.4" stop-color="${tone}"/><stop offset="1" stop-color="#201008"/></radialGradient></defs><rect width="256" height="256" fill="${SKIN[(i + 2) % SKIN.length]}"/><ellipse cx="128" cy="140" rx="${70 + i * 8}" ry="${90 - i * 5}" fill="url(#g)"/></svg>`,
        256 + i * 40,
        256,
      ),
    });
  }
  const drawings = [
    '<circle cx="50" cy="30" r="12" fill="none" stroke="#000" stroke-width="3"/><line x1="50" y1="42" x2="50" y2="75" stroke="#000" stroke-width="3"/><line x1="30" y1="55" x2="70" y2="55" stroke="#000" stroke-width="3"/><line x1="50" y1="75" x2="35" y2="95" stroke="#000" stroke-width="3"/><line x1="50" y1="75" x2="65" y2="95" stroke="#000" stroke-width="3"/>',
    '<rect x="20" y="45" width="60" height="45" fill="#d33"/><polygon points="15,45 50,15 85,45" fill="#642"/><rect x="43" y="65" width="14" height="25" fill="#fff"/>',
    '<circle cx="50" cy="50" r="40" fill="#fc0" stroke="#000" stroke-width="2"/><circle cx="36" cy="40" r="5"/><circle cx="64" cy="40" r="5"/><path d="M30 62 Q50 80 70 62" fill="none" stroke="#000" stroke-width="3"/>',
    '<text x="8" y="58" font-size="22" font-family="sans-serif">easel 0.1</text><rect x="5" y="5" width="90" height="90" fill="none" stroke="#36c" stroke-width="4"/>',
    '<path d="M10 90 C30 10 70 10 90 90" fill="none" stroke="#093" stroke-width="5"/><path d="M10 50 L90 50" stroke="#c09" stroke-width="2"/>',
  ];
  for (const [i, body] of drawings.entries()) {
    out.push({
      name: `drawing ${i + 1}`,
      image: await fromSvg(
        `<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100"><rect width="100" height="100" fill="#fffdf5"/>${body}</svg>`,
        [224, 180, 400, 128, 333][i]!,
        [224, 240, 300, 128, 250][i]!,
      ),
    });
  }
  const scenes = [
    ['#87ceeb', '#3a7d2c', '#ffd700'],
    ['#ff9966', '#553322', '#ffffee'],
    ['#101840', '#202020', '#f0f0ff'],
  ];
  for (const [i, [sky, ground, sun]] of scenes.entries()) {
    out.push({
      name: `scene ${i + 1}`,
      image: await fromSvg(
        `<svg xmlns="http://www.w3.org/2000/svg" width="160" height="100"><defs><linearGradient id="s" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="${sky}"/><stop offset="1" stop-color="#ffffff"/></linearGradient></defs><rect width="160" height="100" fill="url(#s)"/><circle cx="${40 + i * 40}" cy="30" r="14" fill="${sun}"/><rect y="65" width="160" height="35" fill="${ground}"/></svg>`,
        640,
        400,
      ),
    });
  }
  out.push({ name: 'noise', image: seededNoise(224, 224, 1) });
  out.push({ name: 'skin-tone noise', image: seededNoise(500, 375, 2, SKIN) });
  out.push({ name: 'small skin-tone noise', image: seededNoise(96, 120, 3, SKIN.slice(1, 4)) });
  return out;
}
