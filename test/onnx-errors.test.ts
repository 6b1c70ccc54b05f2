// Malformed, truncated or unsuitable models: a clear Error naming the argument, never a crash.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import * as ort from 'onnxruntime-node';

import { FrozenModel, OnnxModelError } from '../lib/onnx/index.js';
import { decodeModel, encodeModel } from '../lib/onnx/proto.js';
import { fixture, residualModel } from './onnx-helpers.js';

describe('FrozenModel.load rejects bad input with a clear Error', () => {
  const bytes = readFileSync(fixture('cnn-b'));

  it('truncated bytes', async () => {
    for (const cut of [1, 100, 5000, bytes.length - 3]) {
      await expect(FrozenModel.load(bytes.subarray(0, cut))).rejects.toThrow(
        /pathOrBytes: expected ONNX ModelProto bytes|pathOrBytes: expected an ONNX model with a graph/,
      );
    }
  });

  it('garbage and empty bytes', async () => {
    const garbage = Uint8Array.from({ length: 4096 }, (_, i) => (i * 131 + 7) & 0xff);
    await expect(FrozenModel.load(garbage)).rejects.toThrow(/pathOrBytes: expected/);
    await expect(FrozenModel.load(new Uint8Array(0))).rejects.toThrow(
      /pathOrBytes: expected an ONNX model with a graph of nodes and outputs, got no graph/,
    );
  });

  it('a missing file, a wrong argument type, bad options', async () => {
    await expect(FrozenModel.load('/nonexistent/model.onnx')).rejects.toThrow(
      /pathOrBytes: cannot read the ONNX file '\/nonexistent\/model.onnx'/,
    );
    await expect(FrozenModel.load(42 as unknown as string)).rejects.toThrow(TypeError);
    await expect(FrozenModel.load(bytes, { threads: 0 })).rejects.toThrow(
      /options.threads: expected a positive integer, got 0/,
    );
    await expect(FrozenModel.load(bytes, { output: 'nope' })).rejects.toThrow(
      /output: expected one of the model outputs \(logits\), got 'nope'/,
    );
  });

  it('a model with two data inputs', async () => {
    await expect(FrozenModel.load(residualModel(['extra']))).rejects.toThrow(
      /expected a model with one data input, got 2 \(x, extra\)/,
    );
  });

  it('a model with two outputs: one is picked with the output option', async () => {
    const model = decodeModel(residualModel(), 'model');
    model.graph!.output.push({ name: 's1', type: { tensor_type: { elem_type: 1 } } });
    const bytes = encodeModel(model);
    await expect(FrozenModel.load(bytes)).rejects.toThrow(
      /pathOrBytes: the model has 2 outputs \(y, s1\); pick one with the 'output' option/,
    );
    const m = await FrozenModel.load(bytes, { output: 's1' });
    expect(m.cutPoints().map((c) => c.name)).toEqual(['x', 'h1', 'a1', 'r1', 's1']);
    expect((await m.run({ data: new Float32Array(12).fill(0.5), dims: [2, 6] })).dims).toEqual([2, 8]);
    await m.dispose();
  });

  it('weights in external data files', async () => {
    const model = decodeModel(residualModel(), 'model');
    const w = model.graph!.initializer[0]!;
    Object.assign(w, {
      raw_data: new Uint8Array(0),
      data_location: 1,
      external_data: [{ key: 'location', value: 'weights.bin' }],
    });
    await expect(FrozenModel.load(encodeModel(model))).rejects.toThrow(
      /pathOrBytes: 1 initializers keep their values in external data files/,
    );
  });

  it('a node reading a tensor nobody produces', async () => {
    const broken = Buffer.from(bytes);
    const at = broken.indexOf('/stem/Conv_output_0');
    broken.write('#', at + 1); // the Conv now writes '/#tem/...'; the Relu still reads the old name
    await expect(FrozenModel.load(broken)).rejects.toThrow(
      /node '\/Relu' reads '\/stem\/Conv_output_0', which is no input, initializer or node output/,
    );
  });
});

describe('FrozenModel errors are OnnxModelErrors naming the file and the reason', () => {
  const bytes = readFileSync(fixture('cnn-b'));

  it('unreadable, non-ONNX and truncated files', async () => {
    const missing = FrozenModel.load('/nonexistent/model.onnx');
    await expect(missing).rejects.toBeInstanceOf(OnnxModelError);
    await expect(missing).rejects.toThrow(
      /^pathOrBytes: cannot read the ONNX file '\/nonexistent\/model.onnx' \(ENOENT/,
    );
    const readme = fileURLToPath(new URL('../README.md', import.meta.url));
    const text = FrozenModel.load(readme);
    await expect(text).rejects.toBeInstanceOf(OnnxModelError);
    await expect(text).rejects.toThrow(
      /^model '.*README\.md': expected (ONNX ModelProto bytes|an ONNX model with a graph)/,
    );
    for (const cut of [1, 100, bytes.length - 3]) {
      await expect(FrozenModel.load(bytes.subarray(0, cut))).rejects.toBeInstanceOf(OnnxModelError);
    }
    await expect(FrozenModel.load(residualModel(['extra']))).rejects.toBeInstanceOf(OnnxModelError);
  });

  it('argument errors keep their classes', async () => {
    await expect(FrozenModel.load(42 as unknown as string)).rejects.toBeInstanceOf(TypeError);
    await expect(FrozenModel.load(bytes, { output: 'nope' })).rejects.toBeInstanceOf(RangeError);
  });
});

describe('cutPoints and extract agree at the ends', () => {
  it('extract(undefined, input) and extract(output) are identity models that run', async () => {
    const m = await FrozenModel.load(readFileSync(fixture('cnn-b')));
    const cuts = m.cutPoints();
    expect(cuts[0]!.name).toBe(m.input.name);
    expect(cuts.at(-1)!.name).toBe(m.output.name);
    for (const [from, to] of [
      [undefined, m.input.name],
      [m.output.name, undefined],
    ] as const) {
      const session = await ort.InferenceSession.create(m.extract(from, to));
      const name = from ?? to!;
      expect([session.inputNames, session.outputNames]).toEqual([[name], [name]]);
      const dims = m.dims(name).map((d) => (typeof d === 'number' ? d : 2 * d.batch));
      const data = Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i));
      const out = await session.run({ [name]: new ort.Tensor('float32', data, dims) });
      expect(Array.from(out[name]!.data as Float32Array)).toEqual(Array.from(data));
      await session.release();
    }
    await m.dispose();
  });
});
