import type { SafetensorsFile, SafetensorsTensor } from '../safetensors/safetensors-file.ts';
import { type LoraComponent, parseLoraKey } from './lora-keys.ts';

/** One layer's LoRA: the tensors (not yet read) that patch one module of one model part. */
export interface LoraModule {
  component: LoraComponent;
  module: string;
  flat: boolean;
  prefix: string;
  down: SafetensorsTensor;
  up: SafetensorsTensor;
  alpha?: SafetensorsTensor;
}

/** A LoRA file's tensors grouped by module, from its header alone. */
export interface LoraLayout {
  modules: LoraModule[];
  /** Keys easel does not read, by prefix: unknown names, or down/up halves without their pair. */
  unread: Map<string, number>;
  /** LyCORIS parts (`lora_mid`, `hada_*`, `lokr_*`, `dora_scale`) it does not merge. */
  unsupported: Set<string>;
}

function count(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

export function loraLayout(file: SafetensorsFile): LoraLayout {
  const groups = new Map<string, Partial<LoraModule> & { prefix: string }>();
  const unread = new Map<string, number>();
  const unsupported = new Set<string>();
  for (const tensor of file.tensors.values()) {
    const key = parseLoraKey(tensor.name);
    if (key === undefined) {
      count(unread, tensor.name.split(/[._]/)[0] ?? tensor.name);
      continue;
    }
    if ('unsupported' in key) {
      unsupported.add(key.unsupported);
      count(unread, key.prefix);
      continue;
    }
    const id = `${key.component}:${key.flat ? 'flat' : 'path'}:${key.module}`;
    const group = groups.get(id) ?? {
      component: key.component,
      module: key.module,
      flat: key.flat,
      prefix: key.prefix,
    };
    group[key.role] = tensor;
    groups.set(id, group);
  }
  const modules: LoraModule[] = [];
  for (const group of groups.values()) {
    if (group.down && group.up) modules.push(group as LoraModule);
    else count(unread, group.prefix);
  }
  return { modules, unread, unsupported };
}
