import onnxProto from 'onnx-proto';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { missingProviderLibraries } from '../engine/provider-libraries.ts';

const { onnx } = onnxProto;

/** A one-node model (y = Identity(x)) that every execution provider can run. */
function identityModelBytes(): Uint8Array {
  const tensorType = (name: string) =>
    onnx.ValueInfoProto.create({
      name,
      type: {
        tensorType: {
          elemType: onnx.TensorProto.DataType.FLOAT,
          shape: { dim: [{ dimValue: 1 }, { dimValue: 4 }] },
        },
      },
    });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    producerName: 'easel-doctor',
    graph: {
      name: 'probe',
      node: [{ opType: 'Identity', input: ['x'], output: ['y'] }],
      input: [tensorType('x')],
      output: [tensorType('y')],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

export interface ProviderProbe {
  provider: string;
  ok: boolean;
  detail: string;
}

/**
 * Tries each execution provider on its own: a session is created with only that provider and one
 * run is made, so a provider that silently falls back to CPU is not reported as working.
 */
export async function probeExecutionProvider(provider: string): Promise<ProviderProbe> {
  const missing = missingProviderLibraries(provider);
  if (missing !== undefined) return { provider, ok: false, detail: missing };
  try {
    const session = await InferenceSession.create(identityModelBytes(), { executionProviders: [provider] });
    const input = new Tensor('float32', new Float32Array([1, 2, 3, 4]), [1, 4]);
    const output = await session.run({ x: input });
    await session.release();
    const y = output.y?.data as Float32Array | undefined;
    if (y?.[3] !== 4) return { provider, ok: false, detail: 'ran but returned wrong values' };
    return { provider, ok: true, detail: 'loads and runs' };
  } catch (error) {
    const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
    return { provider, ok: false, detail: message ?? 'failed' };
  }
}
