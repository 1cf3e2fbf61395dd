import { DISTILL_PATHS } from '../../runtime/operator/distill-layout';

/** Where the adapters lie inside the vLLM container (EC2: `<models mount>/adapters`, EKS: the models volume), one directory per name. */
export const CONTAINER_ADAPTERS_DIR = '/models/adapters';

/** One LoRA adapter a vLLM server loads, and where it comes from. */
export interface ServedAdapter {
  readonly name: string;
  readonly version: string;
  /** `s3://<weights bucket>/adapters/<name>/<version>/` */
  readonly s3Uri: string;
  /** Refuse to serve it without the pipeline's promoted.json. */
  readonly requirePromoted: boolean;
}

/** A model's configured adapters, located in the weights bucket. */
export function servedAdapters(model: { adapters: readonly { name: string; version: string; requirePromoted: boolean }[] }, weightsBucket: string): ServedAdapter[] {
  return model.adapters.map((a) => ({ name: a.name, version: a.version, requirePromoted: a.requirePromoted, s3Uri: `s3://${weightsBucket}/${DISTILL_PATHS.adapter(a.name, a.version)}` }));
}

/**
 * vLLM's LoRA arguments: each adapter is served under its own name (what callers send as `model`,
 * next to the base model's --served-model-name), from the directory the host copied it to.
 */
export function loraArgs(adapters: readonly ServedAdapter[], limits: { maxLoras?: number; maxLoraRank: number }): string[] {
  if (adapters.length === 0) return [];
  return [
    '--enable-lora',
    '--max-loras', String(limits.maxLoras ?? adapters.length),
    '--max-lora-rank', String(limits.maxLoraRank),
    '--lora-modules', ...adapters.map((a) => `${a.name}=${CONTAINER_ADAPTERS_DIR}/${a.name}`),
  ];
}

/** The boot script's ADAPTERS value: `name|version|s3 uri|1 or 0` per adapter, space-separated (names, versions and URIs hold neither). */
export function adapterSyncList(adapters: readonly ServedAdapter[]): string {
  return adapters.map((a) => `${a.name}|${a.version}|${a.s3Uri}|${a.requirePromoted ? 1 : 0}`).join(' ');
}

/**
 * Shell (POSIX sh, for the EKS init container) that copies each adapter to `<dir>/<name>` and fails
 * the pod start when one is not an adapter directory or, where required, not promoted.
 */
export function adapterCopyCommands(adapters: readonly ServedAdapter[], region: string, dir = CONTAINER_ADAPTERS_DIR): string {
  return adapters
    .map((a) => {
      const target = `${dir}/${a.name}`;
      const checks = [
        `test -f ${target}/adapter_config.json || { echo "adapter ${a.name} ${a.version}: ${a.s3Uri} holds no adapter_config.json" >&2; exit 1; }`,
        ...(a.requirePromoted
          ? [`test -f ${target}/${DISTILL_PATHS.promotedMarker} || { echo "adapter ${a.name} ${a.version} is not promoted (no ${DISTILL_PATHS.promotedMarker}): promote it or set requirePromoted false" >&2; exit 1; }`]
          : []),
      ];
      return [`aws s3 cp --recursive --only-show-errors --region ${region} ${a.s3Uri} ${target}`, ...checks].join('; ');
    })
    .join('; ');
}
