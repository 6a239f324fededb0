// Values of the small tensors the shape pass folds (shape constants, Constant nodes, Resize
// scales). Weights are never read here: only numeric tensors of at most MAX_FOLD_ELEMENTS.
import { open } from 'node:fs/promises';
import { decodeTensorBytes } from '../onnx/tensor-data';
import { ElemType, numElements, type TensorData } from '../onnx/types';

export const MAX_FOLD_ELEMENTS = 4096;
/** float tensors are folded only when tiny (scales, epsilons); integer ones up to MAX_FOLD_ELEMENTS */
const MAX_FOLD_FLOATS = 64;

export type TensorBytesReader = (t: TensorData) => Promise<Uint8Array>;

const INTS = new Set<number>([ElemType.INT64, ElemType.INT32, ElemType.INT16, ElemType.INT8, ElemType.UINT64, ElemType.UINT32, ElemType.UINT16, ElemType.UINT8, ElemType.BOOL]);
const FLOATS = new Set<number>([ElemType.FLOAT, ElemType.DOUBLE, ElemType.FLOAT16, ElemType.BFLOAT16]);

export function isFoldable(t: TensorData): boolean {
  const n = numElements(t.dims);
  return (INTS.has(t.elemType) && n <= MAX_FOLD_ELEMENTS) || (FLOATS.has(t.elemType) && n <= MAX_FOLD_FLOATS);
}

const MAX_GAP = 256 * 1024;
const MAX_SPAN = 8 * 1024 * 1024;

function rangeOf(t: TensorData): { offset: number; length: number } {
  return t.location as { offset: number; length: number };
}

/**
 * Reads and decodes the foldable tensors among `tensors`. A tensor whose bytes cannot be read or
 * decoded is left out (its value stays unknown to the shape pass; the model is not rejected here).
 * By default the payloads are read with one open file per model file, neighbours in one read: an
 * exported U-Net has thousands of tiny Constant tensors, and a file open or read call for each (as
 * readTensorBytes does) costs more than the rest of the analysis.
 */
export async function readFoldValues(tensors: Iterable<TensorData>, read?: TensorBytesReader): Promise<Map<TensorData, number[]>> {
  const out = new Map<TensorData, number[]>();
  const todo = [...tensors].filter(isFoldable);
  const decode = (t: TensorData, bytes: Uint8Array) => {
    try {
      const v = decodeTensorBytes(t, bytes);
      if (!Array.isArray(v)) out.set(t, Array.from(v as ArrayLike<number | bigint>, Number));
    } catch {
      // malformed payload: the value stays unknown
    }
  };
  if (read) {
    for (const t of todo) {
      try {
        decode(t, await read(t));
      } catch {
        // unreadable: unknown
      }
    }
    return out;
  }
  const byFile = new Map<string, TensorData[]>();
  for (const t of todo) {
    const loc = t.location;
    if (loc.kind === 'inline') decode(t, loc.bytes);
    else {
      let list = byFile.get(loc.file);
      if (!list) byFile.set(loc.file, (list = []));
      list.push(t);
    }
  }
  for (const [file, list] of byFile) {
    let fh;
    try {
      fh = await open(file, 'r');
    } catch {
      continue; // missing data file: values unknown (reading the weights reports it properly)
    }
    try {
      // tensors sorted by offset, read in spans that cover close neighbours in one call
      list.sort((a, b) => rangeOf(a).offset - rangeOf(b).offset);
      for (let i = 0; i < list.length; ) {
        const start = rangeOf(list[i]).offset;
        let end = start + rangeOf(list[i]).length;
        let j = i + 1;
        while (j < list.length) {
          const r = rangeOf(list[j]);
          if (r.offset - end > MAX_GAP || r.offset + r.length - start > MAX_SPAN) break;
          end = Math.max(end, r.offset + r.length);
          j++;
        }
        const span = new Uint8Array(end - start);
        let done = 0;
        while (done < span.length) {
          const { bytesRead } = await fh.read(span, done, span.length - done, start + done);
          if (!bytesRead) break;
          done += bytesRead;
        }
        for (const t of list.slice(i, j)) {
          const r = rangeOf(t);
          // a copy, so decoded typed arrays are aligned and do not pin the span
          if (r.offset + r.length - start <= done) decode(t, span.slice(r.offset - start, r.offset - start + r.length));
        }
        i = j;
      }
    } finally {
      await fh.close();
    }
  }
  return out;
}
