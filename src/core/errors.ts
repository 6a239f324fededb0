/**
 * An error caused by the user's input (a bad file, an unknown candidate id, a bad flag).
 * The CLI prints its message alone, without a stack trace; the extension shows it as is.
 * Messages name the file and the problem.
 */
export class UserError extends Error {
  constructor(message: string, readonly file?: string) {
    super(message);
    this.name = 'UserError';
  }
}

/** The job was cancelled by the user; callers clean up and report "cancelled", not a failure. */
export class CancelledError extends Error {
  constructor() {
    super('cancelled');
    this.name = 'CancelledError';
  }
}

/** errno codes of a write that ran out of room: the disk or a quota is full, or the file-size limit (ulimit -f) */
const NO_ROOM: Record<string, string> = {
  ENOSPC: 'no space left on the device',
  EDQUOT: 'the disk quota is exhausted',
  EFBIG: 'the file size limit was reached (ulimit -f, or the largest file the filesystem holds)',
};

/** A write ran out of room; the message names the output the user asked for (the bare errno message names none). */
export class NoRoomError extends UserError {
  constructor(file: string, readonly code: string) {
    super(`${file}: could not be written, ${code}: ${NO_ROOM[code] ?? 'no room'}; nothing was left in its place`, file);
    this.name = 'NoRoomError';
  }
}

/**
 * A write that failed for lack of room, as one NoRoomError naming `file` (also re-naming one raised for a
 * temp or staged file after the output it stands for); anything else comes back unchanged. Callers have
 * already removed what they had partly written.
 */
export function noRoomError(e: unknown, file: string): unknown {
  if (e instanceof NoRoomError) return new NoRoomError(file, e.code);
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return code && code in NO_ROOM ? new NoRoomError(file, code) : e;
}
