import { badRequest } from './errors';
import { ownEntry } from './json';

/** Bedrock's Converse limits per block: larger ones are refused by Bedrock after the upload crossed the border. */
export const MAX_IMAGE_BYTES = 3.75 * 1024 * 1024;
export const MAX_DOCUMENT_BYTES = 4.5 * 1024 * 1024;
export const MAX_VIDEO_BYTES = 25 * 1024 * 1024;

export type MediaKind = 'image' | 'document' | 'video';

const LIMITS: Record<MediaKind, number> = { image: MAX_IMAGE_BYTES, document: MAX_DOCUMENT_BYTES, video: MAX_VIDEO_BYTES };

const ascii = (s: string) => [...s].map((c) => c.charCodeAt(0));
/** The first bytes each binary format starts with (null: any byte). Text formats (csv, txt, md, html) have none. */
const MAGIC: Record<string, (number | null)[][]> = {
  png: [[0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]],
  jpeg: [[0xff, 0xd8, 0xff]],
  gif: [ascii('GIF87a'), ascii('GIF89a')],
  webp: [[...ascii('RIFF'), null, null, null, null, ...ascii('WEBP')]],
  pdf: [ascii('%PDF-')],
  // Office Open XML is a zip; the older formats an OLE compound file.
  docx: [[0x50, 0x4b, 0x03, 0x04]],
  xlsx: [[0x50, 0x4b, 0x03, 0x04]],
  doc: [[0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]],
  xls: [[0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]],
};

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Base64 media from a request, checked before anything is sent: Buffer.from() silently decodes
 * garbage to nothing, which would cross the border only for Bedrock to refuse it (or worse, accept it).
 */
export function decodeMedia(kind: MediaKind, format: string, base64: unknown, param: string): Uint8Array {
  if (typeof base64 !== 'string') throw badRequest(`${kind} bytes must be a base64 string`, param, 'invalid_media');
  if (base64.length === 0) throw badRequest(`the ${kind} is empty`, param, 'invalid_media');
  if (base64.length % 4 !== 0 || !BASE64.test(base64)) throw badRequest(`the ${kind} is not valid base64`, param, 'invalid_media');
  const limit = LIMITS[kind];
  // 3 bytes per 4 characters: refuse an oversized block before decoding it.
  if ((base64.length / 4) * 3 - (base64.endsWith('==') ? 2 : base64.endsWith('=') ? 1 : 0) > limit) {
    throw badRequest(`the ${kind} is larger than Bedrock's limit of ${limit / (1024 * 1024)} MB per ${kind}`, param, 'media_too_large');
  }
  const bytes = Buffer.from(base64, 'base64');
  if (bytes.length === 0) throw badRequest(`the ${kind} is empty`, param, 'invalid_media');
  const signatures = ownEntry(MAGIC, format);
  if (signatures && !signatures.some((sig) => sig.every((b, i) => b === null || bytes[i] === b))) {
    throw badRequest(`the ${kind}'s bytes are not ${format} (its signature does not match)`, param, 'invalid_media');
  }
  return new Uint8Array(bytes);
}
