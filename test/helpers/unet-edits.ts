// One edit of each kind on the digits-cond U-Net, in an order where each applies to the model the
// ones before it made: the index-patch and view-model-patch tests walk the same sequence.
import type { EditableModel, ModelEdit } from '../../src/core/edit';

export const digitsCondEdits = (doc: EditableModel): [string, ModelEdit][] => {
  const first = doc.analysis().view.nodeId(doc.model.graph.nodes[0]);
  return [
    ['bypass', { kind: 'bypass', module: 'up_blocks.1.attentions.0' }],
    ['rename a node', { kind: 'rename-node', node: first, to: 'stem' }],
    ['rename a value', { kind: 'rename-value', value: doc.model.graph.nodes[3].outputs[0], to: 'renamed_value' }],
    ['set an output', { kind: 'set-output', value: 'renamed_value' }],
    ['a bypass near the start', { kind: 'bypass', module: 'down_blocks.0.attentions.0' }],
    ['set an attribute', { kind: 'set-attribute', node: '/down_blocks.0/resnets.0/norm1/InstanceNormalization', name: 'epsilon', input: { type: 'float', value: 1e-3 } }],
    ['reject a prune', { kind: 'reject-prunes', modules: ['mid_block.attentions.0'] }],
    ['replace by identity', { kind: 'replace', module: 'mid_block.attentions.0', with: 'identity' }],
    ['clear the output', { kind: 'clear-output', value: 'renamed_value' }],
  ];
};
