// Which .onnx files prune and distillation can use: a pipeline's denoiser (and its pruned/distilled
// versions beside it) and bare models; a VAE decoder or text encoder is refused at once, naming the file
// and the U-Net to use instead.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { UserError } from '../src/core/errors';
import { modelRole, requireDenoiser } from '../src/core/pipeline/model-role';
import { DIGITS_COND } from './pipeline-fixtures';

test('pipeline parts are told apart; only the denoiser and bare models pass', () => {
  assert.deepEqual(modelRole(join(DIGITS_COND, 'unet', 'model.onnx')), { role: 'denoiser', pipeline: DIGITS_COND, label: 'denoiser of digits-cond' });
  assert.equal(modelRole(join(DIGITS_COND, 'unet', 'model.pruned.onnx')).role, 'denoiser');
  assert.equal(modelRole(join(DIGITS_COND, 'vae_decoder', 'model.onnx')).label, 'VAE decoder of digits-cond');
  assert.equal(modelRole(join(DIGITS_COND, 'text_encoder', 'model.onnx')).role, 'text-encoder');
  assert.equal(modelRole(join(DIGITS_COND, 'metrics', 'classifier.onnx')).role, 'pipeline-part');
  assert.equal(modelRole('/somewhere/resnet50.onnx').role, 'model');

  requireDenoiser(join(DIGITS_COND, 'unet', 'model.onnx'), 'distillation');
  requireDenoiser('/somewhere/resnet50.onnx', 'distillation');
  const vae = join(DIGITS_COND, 'vae_decoder', 'model.onnx');
  assert.throws(() => requireDenoiser(vae, "distillation's student"), (e: Error) =>
    e instanceof UserError && e.message.startsWith(vae) && /the VAE decoder of the pipeline/.test(e.message) && e.message.includes(join(DIGITS_COND, 'unet', 'model.onnx')));
});
