// The streaming ONNX writer: encodes the IR (encoder.ts), then streams it to disk, copying every
// tensor payload by range from where it lives (the source .onnx, an external data file, or memory),
// so writing a multi-GB model never holds its weights. Weights go either inside the .onnx (raw_data)
// or into one sidecar file, 4096-aligned like onnx's own external data writer (so runtimes can mmap).
// Output is atomic: temp files in the target folder, renamed into place (sidecar first) only when
// complete; the source model and its data files are never written.
import { statSync } from 'node:fs';
import { type FileHandle, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { CancelledError, noRoomError, UserError } from '../errors';
import { removeStaleTempFiles, tempFileFor } from '../work-dirs';
import { ModelEncoder, type Part, type TensorPlacement } from './encoder';
import { readTensorBytes } from './tensor-data';
import type { Model, TensorData } from './types';
import { forEachTensor } from './walk';
import { ElemType } from './types';
import { decodeStrings } from './wire';

export interface WriteOptions {
  /** 'auto' (default): external data only when the model would pass protobuf's 2 GiB limit */
  externalData?: 'auto' | 'always' | 'never';
  /** sidecar file name, in the output's folder (default: `<output name>.data`) */
  externalDataName?: string;
  /** 'auto' switches to external data above this many bytes (default: 2 GiB - 1, protobuf's limit) */
  maxEmbeddedBytes?: number;
  /** tensors smaller than this stay inside the .onnx when data goes external (default 1024, as onnx does) */
  externalMinBytes?: number;
  /** fsync both files before renaming them into place (default true) */
  durable?: boolean;
  signal?: AbortSignal;
  /** bytes written so far of all bytes to write (sidecar and model), after each tensor copied: a prune's progress bar */
  onProgress?: (doneBytes: number, totalBytes: number) => void;
}

export interface WriteResult {
  path: string;
  bytes: number;
  tensors: number;
  externalTensors: number;
  /** the sidecar, when weights went to external data */
  dataPath?: string;
  dataBytes?: number;
}

const PROTOBUF_LIMIT = 2 ** 31 - 1;
const ALIGN = 4096;
const COPY_CHUNK = 16 * 1024 * 1024;
const OUT_BUFFER = 4 * 1024 * 1024;

/** Payload bytes equal raw_data bytes: these can move to an external file unchanged. */
function rawCompatible(t: TensorData): boolean {
  const loc = t.location;
  if (t.elemType === ElemType.STRING) return false;
  if (loc.kind === 'external' || loc.field === 'raw') return true;
  // packed float_data/double_data are little-endian IEEE values, byte for byte raw_data
  return (loc.field === 'float' && (t.elemType === ElemType.FLOAT || t.elemType === ElemType.COMPLEX64))
    || (loc.field === 'double' && (t.elemType === ElemType.DOUBLE || t.elemType === ElemType.COMPLEX128));
}

function sameFile(a: string, b: { dev: number; ino: number }): boolean {
  try {
    const s = statSync(a);
    return s.dev === b.dev && s.ino === b.ino;
  } catch {
    return false;
  }
}

/** Refuses an output path that is (a link to) the source model or a file the model reads from. */
function checkNotSource(model: Model, outputs: string[]): void {
  const sources = new Set<string>();
  if (model.path) sources.add(model.path);
  forEachTensor(model, (t) => { if (t.location.kind !== 'inline') sources.add(t.location.file); });
  for (const src of sources) {
    let st;
    try { st = statSync(src); } catch { continue; }
    for (const out of outputs) {
      if (resolve(out) === resolve(src) || sameFile(out, st)) {
        throw new UserError(`${out}: refusing to overwrite ${src === model.path ? 'the source model' : `'${src}', which the model reads its data from`}; choose another output path`, out);
      }
    }
  }
}

class OutFile {
  private buf = Buffer.allocUnsafe(OUT_BUFFER);
  private len = 0;
  written = 0;
  constructor(readonly fh: FileHandle, private readonly signal?: AbortSignal) {}

  async write(b: Uint8Array): Promise<void> {
    if (this.len + b.length > this.buf.length) await this.flush();
    if (b.length >= this.buf.length) {
      for (let done = 0; done < b.length;) done += (await this.fh.write(b, done, b.length - done)).bytesWritten;
    } else {
      this.buf.set(b, this.len);
      this.len += b.length;
    }
    this.written += b.length;
  }

  async zeros(n: number): Promise<void> {
    if (n > 0) await this.write(new Uint8Array(n));
  }

  async flush(): Promise<void> {
    if (this.signal?.aborted) throw new CancelledError();
    let done = 0;
    while (done < this.len) done += (await this.fh.write(this.buf, done, this.len - done)).bytesWritten;
    this.len = 0;
  }

  /** Copies a tensor's stored payload, chunk by chunk. */
  async copyPayload(t: TensorData, length: number, sources: Map<string, FileHandle>): Promise<void> {
    const loc = t.location;
    if (loc.kind === 'inline') return this.write(loc.bytes.subarray(0, length));
    let fh = sources.get(loc.file);
    if (!fh) {
      fh = await open(loc.file, 'r');
      sources.set(loc.file, fh);
    }
    const chunk = Buffer.allocUnsafe(Math.min(COPY_CHUNK, length));
    for (let done = 0; done < length;) {
      const n = Math.min(chunk.length, length - done);
      const { bytesRead } = await fh.read(chunk, 0, n, loc.offset + done);
      if (bytesRead === 0) {
        throw new UserError(`${loc.file}: ends before the data of tensor '${t.name}'; it changed since the model was read`, loc.file);
      }
      await this.write(chunk.subarray(0, bytesRead));
      done += bytesRead;
    }
  }
}

/**
 * Writes `model` to `outPath`. The source model (and any file it reads tensor data from) is never
 * overwritten; nothing appears at outPath unless the whole write succeeded.
 */
export async function writeModel(model: Model, outPath: string, opts: WriteOptions = {}): Promise<WriteResult> {
  if (opts.signal?.aborted) throw new CancelledError();
  const out = resolve(outPath);
  const mode = opts.externalData ?? 'auto';
  const dataName = opts.externalDataName ?? `${basename(out)}.data`;
  if (!dataName || /[\\/]/.test(dataName) || dataName === '.' || dataName === '..') {
    throw new UserError(`${out}: external data name '${dataName}' must be a plain file name (it is stored inside the model's folder)`, out);
  }
  const dataPath = join(dirname(out), dataName);
  if (dataPath === out) throw new UserError(`${out}: the external data file cannot be the model file itself`, out);
  if (statSync(out, { throwIfNoEntry: false })?.isDirectory()) throw new UserError(`${out}: is a directory; give a file path for the model`, out);
  if (!statSync(dirname(out), { throwIfNoEntry: false })?.isDirectory()) throw new UserError(`${out}: the folder '${dirname(out)}' does not exist`, out);

  // String tensors are re-emitted as repeated string_data entries: load any that are not in memory.
  const tensors = new Set<TensorData>(); // a tensor object shared by two nodes is stored once
  const dense = new Set<TensorData>();
  forEachTensor(model, (t, isDense) => { tensors.add(t); if (isDense) dense.add(t); });
  const placements = new Map<TensorData, TensorPlacement>();
  for (const t of tensors) {
    const loc = t.location;
    if (loc.kind !== 'external' && loc.field === 'string') {
      placements.set(t, { strings: decodeStrings(loc.kind === 'inline' ? loc.bytes : await readTensorBytes(t)) });
    }
  }

  const minBytes = opts.externalMinBytes ?? 1024;
  const limit = opts.maxEmbeddedBytes ?? PROTOBUF_LIMIT;

  const plan = (external: boolean) => {
    const sidecar: { tensor: TensorData; offset: number; length: number }[] = [];
    let end = 0;
    for (const t of tensors) {
      const p = placements.get(t);
      if (p) delete p.external;
      if (!external || !dense.has(t) || !rawCompatible(t) || t.byteLength < minBytes) continue;
      const offset = Math.ceil(end / ALIGN) * ALIGN;
      const entry = { location: dataName, offset, length: t.byteLength };
      if (p) p.external = entry;
      else placements.set(t, { external: entry });
      sidecar.push({ tensor: t, offset, length: t.byteLength });
      end = offset + t.byteLength;
    }
    const msg = new ModelEncoder((t) => placements.get(t)).model(model);
    return { sidecar, dataBytes: end, modelBytes: msg.size, parts: msg.finish() };
  };

  let p = plan(mode === 'always');
  if (mode === 'auto' && p.modelBytes > limit) p = plan(true);
  if (p.modelBytes > PROTOBUF_LIMIT) {
    throw new UserError(
      `${out}: the model would be ${p.modelBytes} bytes, over protobuf's 2 GiB limit${mode === 'never' ? '; write it with external data' : ' even with its weights in external data'}`, out);
  }

  const useSidecar = p.sidecar.length > 0;
  checkNotSource(model, useSidecar ? [out, dataPath] : [out]);

  // temp files a killed earlier write of this output left (SIGKILL, power loss) go before this write adds its own
  removeStaleTempFiles(out);
  if (useSidecar) removeStaleTempFiles(dataPath);

  const durable = opts.durable ?? true;
  const totalBytes = (useSidecar ? p.dataBytes : 0) + p.modelBytes;
  const temps: string[] = [];
  let writing = out;
  const sources = new Map<string, FileHandle>();
  const renamed: string[] = [];
  try {
    let dataTemp: string | undefined;
    if (useSidecar) {
      dataTemp = tempFileFor(dataPath);
      temps.push(dataTemp);
      writing = dataPath;
      await writeParts(dataTemp, durable, opts.signal, async (o) => {
        for (const s of p.sidecar) {
          await o.zeros(s.offset - o.written);
          await o.copyPayload(s.tensor, s.length, sources);
          opts.onProgress?.(o.written, totalBytes);
        }
      });
    }
    const modelTemp = tempFileFor(out);
    temps.push(modelTemp);
    writing = out;
    await writeParts(modelTemp, durable, opts.signal, (o) => streamParts(o, p.parts, sources));
    opts.onProgress?.(totalBytes, totalBytes);
    if (dataTemp) {
      // Two renames cannot be one atomic step: an earlier model at `out` goes first, so a kill between the
      // renames leaves no model rather than the old model beside the new weights it was not written for.
      await unlink(out).catch(() => undefined);
      await rename(dataTemp, dataPath);
      renamed.push(dataPath);
    }
    await rename(modelTemp, out);
  } catch (e) {
    // A half-written model must not appear: drop the temp files (and a sidecar renamed before the model failed).
    await Promise.all([...temps, ...renamed].map((f) => unlink(f).catch(() => undefined)));
    throw noRoomError(e, writing);
  } finally {
    await Promise.all([...sources.values()].map((fh) => fh.close()));
  }
  return {
    path: out,
    bytes: p.modelBytes,
    tensors: tensors.size,
    externalTensors: p.sidecar.length,
    ...(useSidecar ? { dataPath, dataBytes: p.dataBytes } : {}),
  };
}

async function streamParts(o: OutFile, parts: Part[], sources: Map<string, FileHandle>): Promise<void> {
  for (const part of parts) {
    if (part instanceof Uint8Array) await o.write(part);
    else await o.copyPayload(part.tensor, part.length, sources);
  }
}

async function writeParts(path: string, durable: boolean, signal: AbortSignal | undefined, body: (o: OutFile) => Promise<void>): Promise<void> {
  const fh = await open(path, 'wx');
  try {
    const o = new OutFile(fh, signal);
    await body(o);
    await o.flush();
    if (durable) await fh.datasync();
  } finally {
    await fh.close();
  }
}
