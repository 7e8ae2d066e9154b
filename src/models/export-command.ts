import type { ModelEntry } from './registry.ts';

/**
 * The optimum-cli command that exports a model to the ONNX layout easel reads, run on a machine
 * with Python, internet and `pip install "optimum[onnxruntime]"` (optimum-onnx for SD3). `fp16`
 * halves the size and needs a CUDA GPU for the export (`--device cuda`).
 */
export function exportCommand(
  exported: NonNullable<ModelEntry['export']>,
  folder: string,
  fp16 = false,
): string {
  const precision = fp16 ? ' --dtype fp16 --device cuda' : '';
  return `optimum-cli export onnx --model ${exported.model} --task ${exported.task}${precision} ${folder}`;
}

/**
 * What an operator reads for a registry model with no ONNX export on the hub: the export command
 * and where to put the result.
 */
export function exportInstructions(entry: ModelEntry, modelsDir: string): string {
  const exported = entry.export;
  if (exported === undefined) return '';
  const target = `${modelsDir.replace(/\/+$/, '')}/${entry.folder}`;
  return (
    `there is no ONNX export of ${entry.id} on the hub in the layout easel reads, so easel cannot download it. ` +
    `Export one on a machine with internet (pip install "optimum-onnx[onnxruntime]"): ` +
    `${exportCommand(exported, entry.folder)} (add --dtype fp16 --device cuda on a CUDA GPU for half the size), ` +
    `then copy the folder to ${target} here.` +
    (exported.note !== undefined ? ` ${exported.note}` : '')
  );
}
