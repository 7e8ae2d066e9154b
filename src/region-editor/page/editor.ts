import {
  type Box,
  emptyMask,
  invertMask,
  type MaskBuffer,
  type Point,
  paintedCount,
  paintPolygon,
  paintRectangle,
  paintSegment,
} from './mask-raster.ts';

/**
 * The Vary (Region) page's script (built by esbuild when the api role serves it first; the page's
 * Content-Security-Policy admits this one file and no inline code). Pointer events, so a finger, a
 * pen and a mouse paint alike; the mask lives at the image's own size in mask-raster.ts and the
 * canvas over the picture only shows it. Type-checked with the DOM library by tsconfig.page.json.
 */

type Tool = 'brush' | 'rectangle' | 'lasso';

const UNDO_MAX = 30;
/** The painted part as shown over the picture: a translucent magenta. */
const SHOWN = [255, 0, 170, 140] as const;

function element<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`the page has no #${id}`);
  return found as T;
}

const root = element<HTMLElement>('editor');
const width = Number(root.dataset.width);
const height = Number(root.dataset.height);
const submitUrl = root.dataset.submit ?? '';
const canvas = element<HTMLCanvasElement>('mask');
const sizeInput = element<HTMLInputElement>('brush-size');
const sizeOutput = element<HTMLOutputElement>('brush-size-value');
const undoButton = element<HTMLButtonElement>('undo');
const form = element<HTMLFormElement>('vary-form');
const prompt = element<HTMLTextAreaElement>('prompt');
const submitButton = element<HTMLButtonElement>('submit');
const status = element<HTMLParagraphElement>('status');
const paintedNote = element<HTMLParagraphElement>('painted');
const context = canvas.getContext('2d');
if (!context) throw new Error('this browser has no 2D canvas');
const view: CanvasRenderingContext2D = context;

const mask: MaskBuffer = emptyMask(width, height);
const shown = view.createImageData(width, height);
const history: Uint8Array[] = [];
let tool: Tool = 'brush';
/** The shape being drawn, from pointerdown to pointerup. */
let drawing: { pointerId: number; points: Point[] } | undefined;

function radius(): number {
  return Number(sizeInput.value) / 2;
}

function remember(): void {
  history.push(mask.data.slice());
  if (history.length > UNDO_MAX) history.shift();
  undoButton.disabled = false;
}

/** Redraws the shown mask inside `box` (all of it by default), then any shape being drawn. */
function render(box: Box | undefined = { x0: 0, y0: 0, x1: width, y1: height }): void {
  if (box) {
    for (let y = box.y0; y < box.y1; y++) {
      for (let x = box.x0; x < box.x1; x++) {
        const i = y * width + x;
        const o = i * 4;
        const on = mask.data[i] !== 0;
        shown.data[o] = on ? SHOWN[0] : 0;
        shown.data[o + 1] = on ? SHOWN[1] : 0;
        shown.data[o + 2] = on ? SHOWN[2] : 0;
        shown.data[o + 3] = on ? SHOWN[3] : 0;
      }
    }
    view.putImageData(shown, 0, 0, box.x0, box.y0, box.x1 - box.x0, box.y1 - box.y0);
  }
  const count = paintedCount(mask);
  paintedNote.textContent =
    count === 0
      ? 'Nothing painted yet.'
      : `${((count / (width * height)) * 100).toFixed(1)}% of the image will change.`;
}

/** The outline of a rectangle or lasso still being drawn (on the view only, never in the mask). */
function outline(points: readonly Point[]): void {
  render();
  const first = points[0];
  const last = points[points.length - 1];
  if (!first || !last) return;
  view.save();
  view.lineWidth = Math.max(2, width / 300);
  view.strokeStyle = 'rgb(255, 0, 170)';
  view.setLineDash([view.lineWidth * 3, view.lineWidth * 2]);
  view.beginPath();
  if (tool === 'rectangle') {
    view.rect(first.x, first.y, last.x - first.x, last.y - first.y);
  } else {
    view.moveTo(first.x, first.y);
    for (const p of points.slice(1)) view.lineTo(p.x, p.y);
    view.closePath();
  }
  view.stroke();
  view.restore();
}

/** The pointer's place in image pixels (the canvas is shown scaled to fit the screen). */
function imagePoint(event: PointerEvent): Point {
  const rect = canvas.getBoundingClientRect();
  return {
    x: (event.clientX - rect.left) * (width / rect.width),
    y: (event.clientY - rect.top) * (height / rect.height),
  };
}

canvas.addEventListener('pointerdown', (event) => {
  if (drawing || (event.pointerType === 'mouse' && event.button !== 0)) return;
  event.preventDefault();
  canvas.setPointerCapture(event.pointerId);
  const point = imagePoint(event);
  drawing = { pointerId: event.pointerId, points: [point] };
  remember();
  if (tool === 'brush') render(paintSegment(mask, point, point, radius()));
});

canvas.addEventListener('pointermove', (event) => {
  if (!drawing || event.pointerId !== drawing.pointerId) return;
  event.preventDefault();
  const point = imagePoint(event);
  const last = drawing.points[drawing.points.length - 1] ?? point;
  if (tool === 'brush') {
    drawing.points.push(point);
    render(paintSegment(mask, last, point, radius()));
  } else if (tool === 'rectangle') {
    drawing.points = [drawing.points[0] ?? point, point];
    outline(drawing.points);
  } else {
    drawing.points.push(point);
    outline(drawing.points);
  }
});

function finish(event: PointerEvent): void {
  if (!drawing || event.pointerId !== drawing.pointerId) return;
  const { points } = drawing;
  drawing = undefined;
  const first = points[0];
  const last = points[points.length - 1];
  if (tool === 'rectangle' && first && last) paintRectangle(mask, first, last);
  if (tool === 'lasso') paintPolygon(mask, points);
  render();
}
canvas.addEventListener('pointerup', finish);
canvas.addEventListener('pointercancel', finish);

for (const input of document.querySelectorAll<HTMLInputElement>('input[name="tool"]')) {
  input.addEventListener('change', () => {
    if (input.checked) tool = input.value as Tool;
  });
}

function showSize(): void {
  sizeOutput.value = `${sizeInput.value} px`;
}
sizeInput.addEventListener('input', showSize);
showSize();

function undo(): void {
  const previous = history.pop();
  if (!previous) return;
  mask.data.set(previous);
  undoButton.disabled = history.length === 0;
  render();
}
undoButton.addEventListener('click', undo);
document.addEventListener('keydown', (event) => {
  if ((event.ctrlKey || event.metaKey) && event.key === 'z' && event.target !== prompt) {
    event.preventDefault();
    undo();
  }
});
element<HTMLButtonElement>('clear').addEventListener('click', () => {
  remember();
  mask.data.fill(0);
  render();
});
element<HTMLButtonElement>('invert').addEventListener('click', () => {
  remember();
  invertMask(mask);
  render();
});

/** The mask as a PNG data URI: white where the image is to change, black elsewhere, opaque. */
function maskPng(): Promise<string> {
  const out = document.createElement('canvas');
  out.width = width;
  out.height = height;
  const draw = out.getContext('2d');
  if (!draw) return Promise.reject(new Error('this browser has no 2D canvas'));
  const pixels = draw.createImageData(width, height);
  for (let i = 0; i < mask.data.length; i++) {
    const v = mask.data[i] ?? 0;
    pixels.data[i * 4] = v;
    pixels.data[i * 4 + 1] = v;
    pixels.data[i * 4 + 2] = v;
    pixels.data[i * 4 + 3] = 255;
  }
  draw.putImageData(pixels, 0, 0);
  return new Promise((resolve, reject) => {
    out.toBlob((blob) => {
      if (!blob) return reject(new Error('the mask could not be encoded'));
      const reader = new FileReader();
      reader.onload = () => resolve(String(reader.result));
      reader.onerror = () => reject(reader.error ?? new Error('the mask could not be read'));
      reader.readAsDataURL(blob);
    }, 'image/png');
  });
}

function say(text: string, kind: 'info' | 'done' | 'error'): void {
  status.textContent = text;
  status.className = `status ${kind}`;
  status.setAttribute('role', kind === 'error' ? 'alert' : 'status');
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  if (paintedCount(mask) === 0) {
    say('Paint the part of the image to change first.', 'error');
    return;
  }
  submitButton.disabled = true;
  say('Sending…', 'info');
  try {
    const response = await fetch(submitUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: prompt.value, mask: await maskPng() }),
    });
    const answer = (await response.json().catch(() => ({}))) as { message?: string; tips?: string };
    const text =
      [answer.message, answer.tips].filter(Boolean).join(' ') || `The server answered ${response.status}.`;
    if (response.ok) {
      say(text, 'done');
      root.classList.add('sent');
      return;
    }
    say(text, 'error');
    // A refusal queued nothing and leaves the link usable (unless the link itself is the problem).
    submitButton.disabled = response.status === 403 || response.status === 410;
  } catch {
    say('The server could not be reached; nothing was queued. Try again.', 'error');
    submitButton.disabled = false;
  }
});

render();
root.classList.add('ready');
