import { readModel } from '../src/core/onnx/reader';
import { writeModel } from '../src/core/onnx/writer';
import { AttrType } from '../src/core/onnx/types';
(async () => {
  const N = 30000;
  const nodes = Array.from({ length: N }, (_, i) => ({ name: `/down_blocks.${i % 4}/attentions.0/transformer_blocks.0/attn${i}/MatMul`, opType: 'Conv', domain: '', inputs: [`h${i}`, `w${i}`], outputs: [`h${i + 1}`],
    attributes: [{ name: 'kernel_shape', type: AttrType.INTS, ints: [3, 3] }, { name: 'pads', type: AttrType.INTS, ints: [1, 1, 1, 1] }, { name: 'group', type: AttrType.INT, i: 1 }] }));
  const m = { path: '', irVersion: 8, opsetImports: [{ domain: '', version: 17 }], metadataProps: [], functions: [],
    graph: { name: 'g', nodes, inputs: [], outputs: [], valueInfo: [], initializers: [], sparseInitializers: [] } };
  await writeModel(m as any, '/tmp/nodes.onnx');
  for (let k = 0; k < 6; k++) {
    const t = performance.now(); await readModel('/tmp/nodes.onnx'); console.log('ours', (performance.now() - t).toFixed(1));
  }
})();
