import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';

/** The Python program SageMaker's training toolkit runs from the code archive (contract: training/train_lora.py). */
export const TRAINING_ENTRY_POINT = 'train_lora.py';

/**
 * What never goes into the archive: caches, local environments, and requirement files. The job runs
 * with network isolation by default, so the toolkit must find no requirements.txt to pip-install;
 * packages it may install come from config only (`distill.training.pipPackages`).
 */
const EXCLUDED = [/(^|\/)__pycache__(\/|$)/, /(^|\/)\.[^/]+(\/|$)/, /\.pyc$/, /(^|\/)requirements[^/]*\.txt$/, /(^|\/)(venv|env)(\/|$)/];

/** The files of a directory (relative POSIX paths, sorted) that belong in the training code archive. */
export function trainingFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const entry of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const child = rel ? `${rel}/${entry.name}` : entry.name;
      if (EXCLUDED.some((x) => x.test(child))) continue;
      if (entry.isDirectory()) walk(child);
      else if (entry.isFile()) out.push(child);
    }
  };
  walk('');
  return out.sort();
}

/** requirements.txt for the toolkit to install at job start: the pinned packages from the configured index. */
export function requirementsFile(pipIndexUrl: string, packages: readonly string[]): string | undefined {
  return packages.length === 0 ? undefined : [`--index-url ${pipIndexUrl}`, ...packages].join('\n') + '\n';
}

/**
 * The training code as the `.tar.gz` SageMaker's training toolkit unpacks (`sagemaker_submit_directory`
 * accepts nothing else), byte-for-byte the same for the same inputs: entries sorted, owner root, mode
 * 0644, time 0, gzip without a timestamp. Extra files (the generated requirements.txt) join at the top.
 */
export function trainingArchive(dir: string, extra: Readonly<Record<string, string>> = {}): Buffer {
  const files = trainingFiles(dir);
  if (!files.includes(TRAINING_ENTRY_POINT)) throw new Error(`${dir} has no ${TRAINING_ENTRY_POINT}: the SageMaker job runs it (the contract's training entry)`);
  const entries: [string, Buffer][] = [...files.map((f): [string, Buffer] => [f, fs.readFileSync(path.join(dir, f))]), ...Object.entries(extra).map(([name, text]): [string, Buffer] => [name, Buffer.from(text, 'utf8')])];
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const blocks = entries.flatMap(([name, body]) => [tarHeader(name, body.length), body, Buffer.alloc((512 - (body.length % 512)) % 512)]);
  // Two empty blocks end a tar archive.
  return zlib.gzipSync(Buffer.concat([...blocks, Buffer.alloc(1024)]), { level: 9 });
}

/** A POSIX ustar header; names over 100 bytes split into prefix (155) and name at a "/". */
function tarHeader(name: string, size: number): Buffer {
  let prefix = '';
  let base = name;
  if (Buffer.byteLength(name) > 100) {
    const cut = name.lastIndexOf('/', 155);
    if (cut < 0 || Buffer.byteLength(name.slice(cut + 1)) > 100) throw new Error(`${name}: path too long for a tar header (name 100, prefix 155 bytes)`);
    prefix = name.slice(0, cut);
    base = name.slice(cut + 1);
  }
  const header = Buffer.alloc(512);
  const put = (text: string, offset: number, length: number) => header.write(text, offset, length, 'utf8');
  const octal = (value: number, offset: number, length: number) => put(value.toString(8).padStart(length - 1, '0') + '\0', offset, length);
  put(base, 0, 100);
  octal(0o644, 100, 8);
  octal(0, 108, 8);
  octal(0, 116, 8);
  octal(size, 124, 12);
  octal(0, 136, 12);
  put('        ', 148, 8);
  put('0', 156, 1);
  put('ustar\0', 257, 6);
  put('00', 263, 2);
  put('root', 265, 32);
  put('root', 297, 32);
  put(prefix, 345, 155);
  const checksum = header.reduce((sum, byte) => sum + byte, 0);
  put(checksum.toString(8).padStart(6, '0') + '\0 ', 148, 8);
  return header;
}
