import type { AutocompleteInteraction } from 'discord.js';
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

export async function onAutocomplete(
  registry: Registry,
  interaction: AutocompleteInteraction,
): Promise<void> {
  const focused = interaction.options.getFocused(true);
  await interaction.respond(focused.name === 'model' ? modelChoices(registry, String(focused.value)) : []);
}
