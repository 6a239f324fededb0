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
