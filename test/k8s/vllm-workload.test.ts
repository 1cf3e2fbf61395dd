import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { findUnreachableHost, PRIVATE_ECR_IMAGE_PATTERN } from '../../lib/china/china';
import { adapterCopyCommands, ServedAdapter } from '../../lib/vllm/adapters';
import { GPU_NODE_LABEL, namespaceOf, nvidiaDevicePlugin, vllmWorkload, VllmWorkloadSpec } from '../../lib/k8s/vllm-workload';

const spec: VllmWorkloadSpec = {
  servedName: 'qwen2.5-7b-instruct',
  image: '111122223333.dkr.ecr.cn-northwest-1.amazonaws.com.cn/cnllm/vllm:v0.9.2',
  awsCliImage: '111122223333.dkr.ecr.cn-northwest-1.amazonaws.com.cn/cnllm/awscli:2.27.50',
  region: 'cn-northwest-1',
  modelS3Uri: 's3://cnllm-weights-111122223333-cn-northwest-1/models/Qwen/Qwen2.5-7B-Instruct/master/',
  apiKeySecretArn: 'arn:aws-cn:secretsmanager:cn-northwest-1:111122223333:secret:cnllm/vllm-AbCdEf',
  podRoleArn: 'arn:aws-cn:iam::111122223333:role/cnllm-vllm-pods',
  replicas: 2,
  maxReplicas: 4,
  gpusPerReplica: 1,
  maxModelLen: 8192,
  gpuMemoryUtilization: 0.9,
  dtype: 'auto',
  loadFormat: 'local',
  extraArgs: ['--enable-prefix-caching'],
  nodeGroup: 'gpu-qwen2-5-7b-instruct',
  startupBudgetSeconds: 900,
  targetWaitingRequests: 5,
};

const byKind = (objects: Record<string, any>[], kind: string) => objects.find((o) => o.kind === kind)!;

describe('vLLM workload objects (typed with kubernetes-models, validated against the Kubernetes schema)', () => {
  const objects = vllmWorkload(spec) as Record<string, any>[];
  const deployment = byKind(objects, 'Deployment');
  const pod = deployment.spec.template.spec;
  const vllm = pod.containers[0];

  test('namespace, IRSA service account, deployment, disruption budget, internal NLB service and HPA', () => {
    expect(objects.map((o) => o.kind)).toEqual(['Namespace', 'ServiceAccount', 'Deployment', 'PodDisruptionBudget', 'Service', 'HorizontalPodAutoscaler']);
    for (const o of objects) expect(o.metadata.namespace ?? o.metadata.name).toBe('vllm-qwen2-5-7b-instruct');
    expect(byKind(objects, 'ServiceAccount').metadata.annotations).toEqual({ 'eks.amazonaws.com/role-arn': spec.podRoleArn });
    expect(byKind(objects, 'PodDisruptionBudget').spec.maxUnavailable).toBe(1);
    const service = byKind(objects, 'Service');
    expect(service.spec.type).toBe('LoadBalancer');
    expect(service.metadata.annotations).toEqual(expect.objectContaining({ 'service.beta.kubernetes.io/aws-load-balancer-type': 'nlb', 'service.beta.kubernetes.io/aws-load-balancer-internal': 'true' }));
    const hpa = byKind(objects, 'HorizontalPodAutoscaler');
    expect(hpa.spec).toEqual(expect.objectContaining({ minReplicas: 2, maxReplicas: 4 }));
    expect(hpa.spec.metrics[0].pods.metric.name).toBe('vllm:num_requests_waiting');
  });

  test('GPU scheduling: requests and limits, the GPU taint tolerated, its node group selected, spread across zones', () => {
    expect(vllm.resources).toEqual({ requests: { 'nvidia.com/gpu': '1' }, limits: { 'nvidia.com/gpu': '1' } });
    expect(pod.tolerations).toEqual([{ key: 'nvidia.com/gpu', value: 'true', effect: 'NoSchedule', operator: 'Equal' }]);
    expect(pod.nodeSelector).toEqual({ 'cn-llm-kit/node-group': 'gpu-qwen2-5-7b-instruct' });
    expect(pod.topologySpreadConstraints[0].topologyKey).toBe('topology.kubernetes.io/zone');
    expect(pod.volumes).toContainEqual({ name: 'shm', emptyDir: { medium: 'Memory', sizeLimit: '16Gi' } });
  });

  test('offline and in-region: private ECR images, weights from the in-region bucket, HF_HUB_OFFLINE, no unreachable host', () => {
    for (const c of [...pod.initContainers, ...pod.containers]) expect(c.image).toMatch(PRIVATE_ECR_IMAGE_PATTERN);
    expect(vllm.env).toContainEqual({ name: 'HF_HUB_OFFLINE', value: '1' });
    // vLLM reports usage statistics to its maintainers unless told not to.
    expect(vllm.env).toEqual(expect.arrayContaining([{ name: 'VLLM_NO_USAGE_STATS', value: '1' }, { name: 'DO_NOT_TRACK', value: '1' }]));
    expect(pod.initContainers[0].command[2]).toContain(`aws s3 cp --recursive --only-show-errors --region cn-northwest-1 ${spec.modelS3Uri} /models/model`);
    expect(findUnreachableHost(JSON.stringify(objects))).toBeUndefined();
  });

  test('the API key comes from Secrets Manager into a memory volume: no Kubernetes Secret, no environment entry', () => {
    expect(objects.map((o) => o.kind)).not.toContain('Secret');
    expect(pod.initContainers[0].command[2]).toContain(`aws secretsmanager get-secret-value --region cn-northwest-1 --secret-id ${spec.apiKeySecretArn}`);
    expect(pod.volumes).toContainEqual({ name: 'secrets', emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } });
    expect(JSON.stringify(vllm.env)).not.toContain('VLLM_API_KEY');
    expect(vllm.command[2]).toBe('export VLLM_API_KEY="$(cat /secrets/api-key)"; exec vllm serve "$@"');
  });

  test('probes: a startup budget that covers the model load, then readiness and liveness on /health', () => {
    expect(vllm.startupProbe).toEqual({ httpGet: { path: '/health', port: 8000 }, periodSeconds: 10, failureThreshold: 90 });
    expect(vllm.readinessProbe.httpGet.path).toBe('/health');
    expect(vllm.livenessProbe.httpGet.path).toBe('/health');
  });

  test('vLLM arguments; the Run:ai streamer reads S3 directly and skips the copy', () => {
    expect(vllm.args).toEqual(['/models/model', '--served-model-name', 'qwen2.5-7b-instruct', '--host', '0.0.0.0', '--port', '8000', '--max-model-len', '8192', '--gpu-memory-utilization', '0.9', '--dtype', 'auto', '--tensor-parallel-size', '1', '--enable-prefix-caching']);
    const streamed = byKind(vllmWorkload({ ...spec, loadFormat: 'runai_streamer' }), 'Deployment').spec.template.spec;
    expect(streamed.containers[0].args.slice(0, 1)).toEqual([spec.modelS3Uri]);
    expect(streamed.containers[0].args).toContain('runai_streamer');
    expect(streamed.initContainers[0].command[2]).not.toContain('aws s3 cp');
    expect(streamed.volumes.map((v: any) => v.name)).not.toContain('models');
  });

  test('no HPA when autoscaling on waiting requests is off', () => {
    expect(vllmWorkload({ ...spec, targetWaitingRequests: 0 }).map((o) => o.kind)).not.toContain('HorizontalPodAutoscaler');
  });

  test('the schema check is real: an invalid object is refused', () => {
    expect(() => vllmWorkload({ ...spec, replicas: 1.5 })).toThrow(/must be integer/);
  });

  test('namespaces are DNS labels', () => {
    expect(namespaceOf('qwen2.5-1.5b-instruct')).toBe('vllm-qwen2-5-1-5b-instruct');
    expect(namespaceOf('a'.repeat(80))).toHaveLength(63);
  });
});

describe('NVIDIA device plugin (AL2023 GPU nodes)', () => {
  const plugin = nvidiaDevicePlugin('111122223333.dkr.ecr.cn-northwest-1.amazonaws.com.cn/cnllm/deviceplugin:v0.17.2') as Record<string, any>;
  const pod = plugin.spec.template.spec;

  test('runs on GPU nodes only: selects the GPU node label and tolerates the GPU taint', () => {
    expect(pod.nodeSelector).toEqual({ 'nvidia.com/gpu.present': 'true' });
    expect(GPU_NODE_LABEL).toEqual({ key: 'nvidia.com/gpu.present', value: 'true' });
    expect(pod.tolerations).toEqual([{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }]);
  });
});

describe('LoRA adapters on EKS: the init container copies them next to the weights, vLLM serves each under its name', () => {
  const adapters: ServedAdapter[] = [
    { name: 'support-bot', version: 'v3', s3Uri: 's3://cnllm-weights-111122223333-cn-northwest-1/adapters/support-bot/v3/', requirePromoted: true },
    { name: 'legal', version: '20261201', s3Uri: 's3://cnllm-weights-111122223333-cn-northwest-1/adapters/legal/20261201/', requirePromoted: false },
  ];

  test('vLLM keeps --served-model-name for the base model and adds --enable-lora, the limits and one --lora-modules entry per adapter', () => {
    const pod = byKind(vllmWorkload({ ...spec, adapters, lora: { maxLoraRank: 32 } }), 'Deployment').spec.template.spec;
    expect(pod.containers[0].args).toEqual([
      '/models/model', '--served-model-name', 'qwen2.5-7b-instruct', '--host', '0.0.0.0', '--port', '8000', '--max-model-len', '8192', '--gpu-memory-utilization', '0.9', '--dtype', 'auto', '--tensor-parallel-size', '1',
      '--enable-lora', '--max-loras', '2', '--max-lora-rank', '32', '--lora-modules', 'support-bot=/models/adapters/support-bot', 'legal=/models/adapters/legal',
      '--enable-prefix-caching',
    ]);
    expect(pod.initContainers[0].command[2]).toContain(`aws s3 cp --recursive --only-show-errors --region cn-northwest-1 ${adapters[0].s3Uri} /models/adapters/support-bot`);
  });

  test('with the Run:ai streamer the models volume still holds the adapters (vLLM loads them from local disk)', () => {
    const pod = byKind(vllmWorkload({ ...spec, loadFormat: 'runai_streamer', adapters: adapters.slice(0, 1), lora: { maxLoras: 1, maxLoraRank: 16 } }), 'Deployment').spec.template.spec;
    expect(pod.volumes.map((v: any) => v.name)).toContain('models');
    expect(pod.initContainers[0].volumeMounts).toContainEqual({ name: 'models', mountPath: '/models' });
    expect(pod.containers[0].volumeMounts).toContainEqual({ name: 'models', mountPath: '/models', readOnly: true });
    expect(pod.initContainers[0].command[2]).not.toContain('/models/model');
  });

  test('the copy commands, run by sh: promoted adapters start, an unpromoted one that must be promoted stops the pod start', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cnllm-adapters-'));
    const bucket = path.join(dir, 's3');
    fs.mkdirSync(path.join(dir, 'bin'));
    // aws s3 cp --recursive ... <s3 uri> <target>: copies what the fake bucket holds under the URI.
    fs.writeFileSync(path.join(dir, 'bin', 'aws'), '#!/bin/sh\nfor last; do :; done\nsrc=$(echo "$@" | awk \'{print $(NF-1)}\')\nmkdir -p "$last"\ncp -r "$BUCKET/${src#s3://}/." "$last/" 2>/dev/null || true\n', { mode: 0o755 });
    const publish = (uri: string, files: string[]) => {
      fs.mkdirSync(path.join(bucket, uri.replace('s3://', '')), { recursive: true });
      for (const f of files) fs.writeFileSync(path.join(bucket, uri.replace('s3://', ''), f), f);
    };
    const run = (list: ServedAdapter[]) =>
      spawnSync('sh', ['-c', `set -e; ${adapterCopyCommands(list, 'cn-northwest-1', path.join(dir, 'adapters'))}`], { env: { PATH: `${path.join(dir, 'bin')}:/usr/bin:/bin`, BUCKET: bucket }, encoding: 'utf8' });
    publish(adapters[0].s3Uri, ['adapter_config.json', 'adapter_model.safetensors']);
    publish(adapters[1].s3Uri, ['adapter_config.json', 'adapter_model.safetensors']);
    const unpromoted = run(adapters);
    expect(unpromoted.status).not.toBe(0);
    expect(unpromoted.stderr).toContain('adapter support-bot v3 is not promoted (no promoted.json): promote it or set requirePromoted false');
    publish(adapters[0].s3Uri, ['promoted.json']);
    expect(run(adapters).status).toBe(0);
    expect(fs.readdirSync(path.join(dir, 'adapters')).sort()).toEqual(['legal', 'support-bot']);
    const missing = run([{ ...adapters[1], name: 'gone', s3Uri: 's3://cnllm-weights-111122223333-cn-northwest-1/adapters/gone/v1/' }]);
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toContain('holds no adapter_config.json');
  });
});
