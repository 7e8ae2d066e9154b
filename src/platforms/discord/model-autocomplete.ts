import type { AutocompleteInteraction } from 'discord.js';
import { installedAddOns } from '../../models/add-on-folders.ts';
import type { Registry } from '../../models/registry.ts';
import { truncate } from './status-text.ts';

const CHOICES_MAX = 25;

/** Registry models matching what the member typed (id, alias or description), at most 25. */
function modelChoices(registry: Registry, typed: string): { name: string; value: string }[] {
  const q = typed.trim().toLowerCase();
  const matches = registry.models.filter(
    (m) =>
      m.kind !== 'upscaler' &&
      (q === '' ||
        m.id.includes(q) ||
        m.aliases.some((a) => a.toLowerCase().includes(q)) ||
        m.description.toLowerCase().includes(q)),
  );
  return matches
    .slice(0, CHOICES_MAX)
    .map((m) => ({ name: truncate(`${m.id} — ${m.description}`, 100), value: m.id }));
}

/**
 * Installed LoRAs for the last name of what the member typed (`detail:0.8, sty`): each choice keeps
 * the LoRAs already written and completes the last one, so several can be picked one after another.
 */
export function loraChoices(modelsDir: string, typed: string): { name: string; value: string }[] {
  const cut = typed.lastIndexOf(',');
  const done = cut < 0 ? '' : `${typed.slice(0, cut + 1).trim()} `;
  const q = typed
    .slice(cut + 1)
    .trim()
    .split(':')[0]!
    .toLowerCase();
  return installedAddOns(modelsDir, 'lora')
    .filter((lora) => lora.name.toLowerCase().includes(q) && !done.includes(`${lora.name}:`))
    .slice(0, CHOICES_MAX)
    .map((lora) => {
      const value = truncate(`${done}${lora.name}:1`, 100);
      return { name: value, value };
    });
}

export async function onAutocomplete(
  registry: Registry,
  modelsDir: string,
  interaction: AutocompleteInteraction,
): Promise<void> {
  const focused = interaction.options.getFocused(true);
  const typed = String(focused.value);
  const choices =
    focused.name === 'model'
      ? modelChoices(registry, typed)
      : focused.name === 'lora'
        ? loraChoices(modelsDir, typed)
        : [];
  await interaction.respond(choices);
}
