import { PROMPT_MAX_CHARS } from '../request/limits.ts';

/**
 * The Vary (Region) page and its error pages, as HTML strings. No inline script or style (the CSP
 * forbids both): the script reads what it needs from the `data-` attributes of `#editor`. Every
 * value from a job or a link is escaped.
 */

export const SCRIPT_PATH = '/region/assets/editor.js';
export const STYLE_PATH = '/region/assets/editor.css';

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * The page's Content-Security-Policy: nothing but this script and this stylesheet (by exact URL),
 * images from here (the picture, and the data:/blob: URLs the canvas makes), requests back here,
 * no framing (a page that paints and submits must not be clickjacked).
 */
export function contentSecurityPolicy(base: string): string {
  return [
    "default-src 'none'",
    `script-src ${base}${SCRIPT_PATH}`,
    `style-src ${base}${STYLE_PATH}`,
    "img-src 'self' data: blob:",
    "connect-src 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ');
}

function page(base: string, title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<link rel="icon" href="data:,">
<title>${escapeHtml(title)} · easel</title>
<link rel="stylesheet" href="${escapeHtml(base + STYLE_PATH)}">
</head>
<body>
${body}
</body>
</html>
`;
}

export interface EditorPage {
  base: string;
  imageUrl: string;
  submitUrl: string;
  width: number;
  height: number;
  prompt: string;
  imageNumber: number;
  /** How long the link still works. */
  msLeft: number;
}

export function editorPage(p: EditorPage): string {
  const minutes = Math.max(1, Math.round(p.msLeft / 60_000));
  return page(
    p.base,
    'Vary (Region)',
    `<main id="editor" data-width="${p.width}" data-height="${p.height}" data-submit="${escapeHtml(p.submitUrl)}">
<h1>Vary (Region)</h1>
<p class="hint">Paint the part of image ${p.imageNumber} to change, say what to put there, and submit. This link works once, for about ${minutes} more minute${minutes === 1 ? '' : 's'}.</p>
<div class="toolbar" role="toolbar" aria-label="Mask tools">
<fieldset>
<legend>Tool</legend>
<label><input type="radio" name="tool" value="brush" checked> Brush</label>
<label><input type="radio" name="tool" value="rectangle"> Rectangle</label>
<label><input type="radio" name="tool" value="lasso"> Lasso</label>
</fieldset>
<label for="brush-size">Brush size</label>
<input type="range" id="brush-size" min="4" max="256" step="2" value="48" aria-describedby="brush-size-value">
<output id="brush-size-value" for="brush-size">48 px</output>
<button type="button" id="undo" disabled>Undo</button>
<button type="button" id="clear">Clear</button>
<button type="button" id="invert">Invert</button>
</div>
<div class="stage">
<img id="picture" src="${escapeHtml(p.imageUrl)}" width="${p.width}" height="${p.height}" alt="Image ${p.imageNumber}, to paint over">
<canvas id="mask" width="${p.width}" height="${p.height}" role="img" aria-label="Mask over image ${p.imageNumber}: paint here the part to change"></canvas>
</div>
<p id="painted" class="painted" aria-live="polite">Nothing painted yet.</p>
<form id="vary-form" method="post" action="${escapeHtml(p.submitUrl)}">
<label for="prompt">Prompt: what the painted part should become</label>
<textarea id="prompt" name="prompt" required maxlength="${PROMPT_MAX_CHARS}">${escapeHtml(p.prompt)}</textarea>
<div><button type="submit" id="submit" class="primary">Submit</button></div>
</form>
<p id="status" class="status" role="status" aria-live="polite"></p>
<noscript><p class="status error">This page needs JavaScript to paint the mask.</p></noscript>
</main>
<script src="${escapeHtml(p.base + SCRIPT_PATH)}" defer></script>`,
  );
}

/** A link that does not open: why, and what to do. */
export function problemPage(base: string, title: string, text: string): string {
  return page(
    base,
    title,
    `<main class="problem">
<h1>${escapeHtml(title)}</h1>
<p>${escapeHtml(text)}</p>
</main>`,
  );
}
