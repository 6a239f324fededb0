// Follows a distillation run's events.jsonl while the trainer appends to it: replays what is there,
// then delivers each complete new line. fs.watch gives prompt updates where the OS supports it; a poll
// catches what it misses (network folders, a file that does not exist yet, a file replaced under the
// same name). No vscode here, so tests drive it in node.
import { watch, type FSWatcher } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';
import type { TrainerEvent } from './events';
import { LineSplitter, parseEventLines } from './runSeries';

export interface EventsFileState {
  exists: boolean;
  /** bytes read so far */
  size: number;
  /** last modification time of the file, ms since the epoch */
  mtimeMs?: number;
  /** why the file cannot be read (other than not existing yet) */
  error?: string;
}

export interface EventsFollowerHandlers {
  /**
   * New events in file order. `reset` means the file was replaced or shortened (the run folder was
   * deleted and a new run started in it): drop what came before, these events start from the top.
   */
  onEvents(events: TrainerEvent[], reset: boolean, skippedLines: number): void;
  onState?(state: EventsFileState): void;
}

export interface EventsFollowerOptions {
  pollMs?: number;
  /** read at most this many bytes per pass, so a huge file replays in slices without blocking the host */
  chunkBytes?: number;
}

export class EventsFileFollower {
  private offset = 0;
  private identity: string | undefined;
  /** the next delivery must tell the reader to drop what it has (the file was replaced) */
  private pendingReset = false;
  private splitter = new LineSplitter();
  private decoder = new StringDecoder('utf8');
  private watcher: FSWatcher | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  private busy = false;
  private again = false;
  private disposed = false;
  private lastState = '';
  private readonly pollMs: number;
  private readonly chunkBytes: number;

  constructor(
    readonly file: string,
    private readonly handlers: EventsFollowerHandlers,
    options: EventsFollowerOptions = {},
  ) {
    this.pollMs = options.pollMs ?? 1000;
    this.chunkBytes = options.chunkBytes ?? 4 << 20;
  }

  /** Reads what is there now and starts following; resolves after that first read. */
  async start(): Promise<void> {
    this.timer = setInterval(() => void this.check(), this.pollMs);
    await this.check();
  }

  /** Reads whatever was appended since the last read (also what the poll and the watcher call). */
  async check(): Promise<void> {
    if (this.disposed) return;
    // one read at a time: a watcher event during a read schedules one more pass instead of a second reader
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = true;
    try {
      do {
        this.again = false;
        await this.readNew();
      } while (this.again && !this.disposed);
    } catch (e) {
      // unreadable for now (permissions, a network folder gone): say so and keep polling
      this.report({ exists: true, size: this.offset, error: `${this.file}: ${e instanceof Error ? e.message : String(e)}` });
    } finally {
      this.busy = false;
    }
  }

  dispose(): void {
    this.disposed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.watcher?.close();
    this.watcher = undefined;
  }

  private async readNew(): Promise<void> {
    let st;
    try {
      st = await stat(this.file);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (this.identity !== undefined) this.restart();
      this.unwatch();
      this.report({ exists: false, size: 0, error: code === 'ENOENT' || code === 'ENOTDIR' ? undefined : `${this.file}: ${(e as Error).message}` });
      return;
    }
    if (!st.isFile()) {
      this.report({ exists: false, size: 0, error: `${this.file}: not a file` });
      return;
    }
    const identity = `${st.dev}:${st.ino}`;
    if (this.identity !== undefined && (identity !== this.identity || st.size < this.offset)) this.restart();
    if (identity !== this.identity) {
      this.identity = identity;
      this.watchFile();
    }
    let reset = this.pendingReset;
    while (st.size > this.offset && !this.disposed) {
      const length = Math.min(st.size - this.offset, this.chunkBytes);
      const buf = Buffer.alloc(length);
      const fh = await open(this.file, 'r');
      let n = 0;
      try {
        ({ bytesRead: n } = await fh.read(buf, 0, length, this.offset));
      } finally {
        await fh.close();
      }
      if (n <= 0) break;
      this.offset += n;
      const { events, skipped } = parseEventLines(this.splitter.push(this.decoder.write(buf.subarray(0, n))));
      if (events.length || skipped || reset) this.handlers.onEvents(events, reset, skipped);
      reset = false;
      this.pendingReset = false;
    }
    if (reset) {
      this.handlers.onEvents([], true, 0);
      this.pendingReset = false;
    }
    this.report({ exists: true, size: this.offset, mtimeMs: st.mtimeMs });
  }

  /** The file was replaced or shortened: read it again from the top. */
  private restart(): void {
    this.offset = 0;
    this.identity = undefined;
    this.splitter.reset();
    this.decoder = new StringDecoder('utf8');
    this.pendingReset = true;
  }

  private watchFile(): void {
    this.unwatch();
    try {
      this.watcher = watch(this.file, { persistent: false }, () => void this.check());
      // the poll carries on if the watcher breaks (file deleted, too many watches)
      this.watcher.on('error', () => this.unwatch());
    } catch {
      this.watcher = undefined;
    }
  }

  private unwatch(): void {
    this.watcher?.close();
    this.watcher = undefined;
  }

  private report(s: EventsFileState): void {
    const key = JSON.stringify(s);
    if (key === this.lastState) return;
    this.lastState = key;
    this.handlers.onState?.(s);
  }
}
