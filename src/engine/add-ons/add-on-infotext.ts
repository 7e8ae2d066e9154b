import type { UsedAddOns } from '../generate-pictures.ts';
import type { InfotextParameters } from '../infotext.ts';
import { embeddingShortHash, loraShortHash } from './add-on-hashes.ts';

/** The infotext fields of a render's LoRAs and embeddings, with their files' short hashes. */
export async function addOnInfotext(
  used: UsedAddOns | undefined,
): Promise<Pick<InfotextParameters, 'loras' | 'embeddings'>> {
  if (used === undefined) return {};
  const loras = await Promise.all(
    used.loras.map(async ({ name, strength, path }) => ({ name, strength, hash: await loraShortHash(path) })),
  );
  const embeddings = await Promise.all(
    used.embeddings.map(async ({ name, path }) => ({ name, hash: await embeddingShortHash(path) })),
  );
  return { loras, embeddings };
}
