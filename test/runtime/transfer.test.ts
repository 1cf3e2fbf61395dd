import { OperatorError } from '../../runtime/operator/operator-error';
import { DEFAULT_RETRY_POLICY, MiB, RetriesExhaustedError, TransferProgress, TransientError, backoffMs, isTransient, withRetries } from '../../runtime/operator/transfer';

describe('retries', () => {
  test('backoff is full jitter under a ceiling that doubles per attempt up to the cap', () => {
    const at = (random: number, attempt: number) => backoffMs({ ...DEFAULT_RETRY_POLICY, random: () => random }, attempt);
    expect([1, 2, 3, 4, 5, 6, 7].map((attempt) => at(0.999999, attempt))).toEqual([999, 1999, 3999, 7999, 15999, 29999, 29999]);
    expect(at(0, 5)).toBe(0);
    expect(at(0.5, 3)).toBe(2000);
  });

  test('retries transient failures with the policy waits, then succeeds', async () => {
    const waits: number[] = [];
    const heard: number[] = [];
    const failures = [Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }), new TypeError('terminated'), Object.assign(new Error('slow down'), { name: 'SlowDown', $metadata: { httpStatusCode: 503 } })];
    const result = await withRetries(
      'a part',
      async (attempt) => {
        if (attempt <= failures.length) throw failures[attempt - 1];
        return attempt;
      },
      { ...DEFAULT_RETRY_POLICY, random: () => 0.5, sleep: async (ms) => void waits.push(ms) },
      (_e, attempt) => heard.push(attempt),
    );
    expect(result).toBe(4);
    expect(waits).toEqual([500, 1000, 2000]);
    expect(heard).toEqual([1, 2, 3]);
  });

  test('does not retry an answer that will not change, and gives up after maxAttempts with a message that says what to do', async () => {
    let calls = 0;
    const denied = Object.assign(new Error('no'), { name: 'AccessDeniedException', $metadata: { httpStatusCode: 403 } });
    await expect(withRetries('x', async () => { calls++; throw denied; }, { ...DEFAULT_RETRY_POLICY, sleep: async () => undefined })).rejects.toBe(denied);
    expect(calls).toBe(1);
    await expect(withRetries('x', async () => { throw new OperatorError('bad digest'); })).rejects.toThrow('bad digest');

    calls = 0;
    const error = await withRetries('uploading part 3', async () => { calls++; throw new TransientError('cut'); }, { ...DEFAULT_RETRY_POLICY, maxAttempts: 4, sleep: async () => undefined }).catch((e) => e);
    expect(calls).toBe(4);
    expect(error).toBeInstanceOf(RetriesExhaustedError);
    expect(error.message).toBe('uploading part 3 failed 4 times; last: TransientError: cut. Run the command again: it resumes where it stopped.');
  });

  test.each([
    [Object.assign(new Error('fetch failed'), { name: 'TypeError', cause: Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }) }), true],
    [Object.assign(new Error('x'), { name: 'TimeoutError' }), true],
    [Object.assign(new Error('x'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } }), true],
    [Object.assign(new Error('x'), { name: 'InternalError', $metadata: { httpStatusCode: 500 } }), true],
    [new Error('AWS SDK error wrapper for TimeoutError: write ECONNRESET'), true],
    [Object.assign(new Error('x'), { name: 'NoSuchBucket', $metadata: { httpStatusCode: 404 } }), false],
    [Object.assign(new Error('x'), { name: 'InvalidLayerPartException', $metadata: { httpStatusCode: 400 } }), false],
    [new OperatorError('x'), false],
  ])('isTransient(%p) = %p', (error, expected) => expect(isTransient(error)).toBe(expected));
});

describe('progress', () => {
  const recorder = (isTTY: boolean) => {
    const writes: string[] = [];
    return { writes, stream: { isTTY, write: (text: string) => writes.push(text) } };
  };

  test('a terminal gets one line rewritten at most once a second: bytes, percent and the recent rate', () => {
    let now = 0;
    const { writes, stream } = recorder(true);
    const progress = new TransferProgress('cnllm/vllm:v0.9.2', 100 * MiB, stream, () => now);
    now = 500;
    progress.add(10 * MiB);
    expect(writes).toEqual([]);
    now = 1000;
    progress.add(10 * MiB);
    now = 1500;
    progress.add(30 * MiB);
    const lines: string[] = [];
    progress.above((line) => lines.push(line))('copied sha256:0123456789ab...');
    now = 3000;
    progress.add(10 * MiB);
    progress.finish();
    expect(lines).toEqual(['copied sha256:0123456789ab...']);
    expect(writes).toEqual([
      '\rcnllm/vllm:v0.9.2: 20.0 MiB / 100.0 MiB (20%) 20.0 MiB/s\x1b[K',
      // A log line replaces the progress line, which comes back at the next update.
      '\r\x1b[K',
      '\rcnllm/vllm:v0.9.2: 60.0 MiB / 100.0 MiB (60%) 20.0 MiB/s\x1b[K',
      '\rcnllm/vllm:v0.9.2: 60.0 MiB / 100.0 MiB (60%) 20.0 MiB/s average\x1b[K',
      '\n',
    ]);
  });

  test('a log (not a terminal) gets a full line every 30 s; a short transfer prints nothing at all', () => {
    let now = 0;
    const log = recorder(false);
    const progress = new TransferProgress('model.safetensors', 4 * 1024 * MiB, log.stream, () => now);
    for (let second = 1; second <= 61; second++) {
      now = second * 1000;
      progress.add(16 * MiB);
    }
    progress.finish();
    expect(log.writes).toEqual(['model.safetensors: 480.0 MiB / 4.0 GiB (11%) 16.0 MiB/s\n', 'model.safetensors: 960.0 MiB / 4.0 GiB (23%) 16.0 MiB/s\n']);

    const tty = recorder(true);
    const short = new TransferProgress('config.json', 100, tty.stream, () => 10);
    short.add(100);
    short.finish();
    expect(tty.writes).toEqual([]);
  });
});
