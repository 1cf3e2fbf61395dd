/** A failure an operator can act on: its message says what was being done and what to do. */
export class OperatorError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OperatorError';
  }
}

/** Runs one AWS call; a failure becomes one line naming the step, without request or response bodies. */
export async function attempt<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof OperatorError) throw e;
    throw new OperatorError(`Could not ${what}: ${(e as Error).name}: ${(e as Error).message}`);
  }
}
