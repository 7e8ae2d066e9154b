import { RegionEditor, type RegionServices } from './region-editor.ts';

/**
 * One RegionEditor per Services object, for the chat roles that offer links (its signing key is
 * read from Redis once, not on every press).
 */
const editors = new WeakMap<RegionServices, RegionEditor>();

export function regionEditorFor(services: RegionServices): RegionEditor {
  let editor = editors.get(services);
  if (!editor) {
    editor = new RegionEditor(services);
    editors.set(services, editor);
  }
  return editor;
}
