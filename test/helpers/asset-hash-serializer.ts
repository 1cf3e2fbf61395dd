/**
 * Jest snapshot serializer: asset hashes (64 hex characters, e.g. the S3 key of a bundled Lambda)
 * change with every code edit; snapshots should change only when the infrastructure does.
 */
const ASSET_HASH = /[0-9a-f]{64}/g;

module.exports = {
  test: (value: unknown) => typeof value === 'string' && /[0-9a-f]{64}/.test(value),
  serialize: (value: string) => JSON.stringify(value.replace(ASSET_HASH, '[ASSET_HASH]')),
};
