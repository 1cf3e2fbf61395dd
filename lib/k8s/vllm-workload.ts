import { DaemonSet, Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { Namespace, Service, ServiceAccount } from 'kubernetes-models/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { VLLM_ENVIRONMENT, VLLM_PORT } from '../vllm/server';
import { adapterCopyCommands, loraArgs, ServedAdapter } from '../vllm/adapters';

export interface VllmWorkloadSpec {
  readonly servedName: string;
  /** vLLM image in the private ECR of the region (by digest when pinned). */
  readonly image: string;
  /** AWS CLI image in the private ECR: copies weights and reads the API key at pod start. */
  readonly awsCliImage: string;
  readonly region: string;
  /** `s3://<bucket>/models/<id>/<revision>/` */
  readonly modelS3Uri: string;
  readonly apiKeySecretArn: string;
  /** IAM role the pods assume through IRSA: read the model prefix and the API key only. */
  readonly podRoleArn: string;
  readonly replicas: number;
  readonly maxReplicas: number;
  readonly gpusPerReplica: number;
  readonly maxModelLen: number;
  readonly gpuMemoryUtilization: number;
  readonly dtype: string;
  readonly loadFormat: 'local' | 'runai_streamer';
  readonly extraArgs: readonly string[];
  /** Node label value of the GPU node group this model runs on. */
  readonly nodeGroup: string;
  /** Seconds the startup probe allows for image pull, weight copy and model load. */
  readonly startupBudgetSeconds: number;
  /** Scale out when this many requests wait per replica (vllm:num_requests_waiting); 0 disables the HPA. */
  readonly targetWaitingRequests: number;
  /** LoRA adapters the init container copies next to the weights and vLLM serves under their names. @default none */
  readonly adapters?: readonly ServedAdapter[];
  /** --max-loras (@default the number of adapters) and --max-lora-rank. @default rank 16 */
  readonly lora?: { readonly maxLoras?: number; readonly maxLoraRank: number };
}

/** Node label that pins pods to their node group. */
export const NODE_GROUP_LABEL = 'cn-llm-kit/node-group';
export const GPU_TAINT = { key: 'nvidia.com/gpu', value: 'true', effect: 'NoSchedule' as const };
/**
 * Node label every GPU node group carries, whatever its model: the label the NVIDIA device plugin's
 * own chart selects nodes by, so the plugin runs where there are NVIDIA GPUs and nowhere else.
 */
export const GPU_NODE_LABEL = { key: 'nvidia.com/gpu.present', value: 'true' } as const;

/** Namespaces are DNS labels: served names may contain dots. */
export const namespaceOf = (servedName: string) => `vllm-${servedName.replace(/[^a-z0-9-]/g, '-')}`.slice(0, 63).replace(/-+$/, '');

/**
 * The Kubernetes objects that serve one model with vLLM on EKS GPU nodes: typed (kubernetes-models)
 * and validated against the Kubernetes schema before they leave this function.
 */
export function vllmWorkload(spec: VllmWorkloadSpec): Record<string, unknown>[] {
  const namespace = namespaceOf(spec.servedName);
  const labels = { 'app.kubernetes.io/name': 'vllm', 'app.kubernetes.io/instance': spec.servedName, 'app.kubernetes.io/part-of': 'cn-llm-kit' };
  const local = spec.loadFormat === 'local';
  const adapters = spec.adapters ?? [];
  // The models volume holds the weights (local) and the adapters (vLLM reads adapters from local disk only).
  const modelsVolume = local || adapters.length > 0;

  const vllmArgs = [
    local ? '/models/model' : spec.modelS3Uri,
    '--served-model-name', spec.servedName,
    '--host', '0.0.0.0',
    '--port', String(VLLM_PORT),
    '--max-model-len', String(spec.maxModelLen),
    '--gpu-memory-utilization', String(spec.gpuMemoryUtilization),
    '--dtype', spec.dtype,
    '--tensor-parallel-size', String(spec.gpusPerReplica),
    ...(local ? [] : ['--load-format', 'runai_streamer']),
    ...loraArgs(adapters, spec.lora ?? { maxLoraRank: 16 }),
    ...spec.extraArgs,
  ];
  // The key never becomes a Kubernetes Secret (etcd) or an environment entry: it is read from Secrets
  // Manager at start into a memory volume and exported only into the vLLM process.
  const fetchKey = `aws secretsmanager get-secret-value --region ${spec.region} --secret-id ${spec.apiKeySecretArn} --query SecretString --output text > /secrets/api-key`;
  const copyWeights = `aws s3 cp --recursive --only-show-errors --region ${spec.region} ${spec.modelS3Uri} /models/model`;

  const objects = [
    new Namespace({ metadata: { name: namespace, labels } }),
    new ServiceAccount({ metadata: { name: 'vllm', namespace, labels, annotations: { 'eks.amazonaws.com/role-arn': spec.podRoleArn } } }),
    new Deployment({
      metadata: { name: 'vllm', namespace, labels },
      spec: {
        replicas: spec.replicas,
        selector: { matchLabels: labels },
        // One replica fits a node's GPUs: surge would wait for a free GPU node, so replace one at a time.
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: 1 } },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: 'vllm',
            nodeSelector: { [NODE_GROUP_LABEL]: spec.nodeGroup },
            tolerations: [{ ...GPU_TAINT, operator: 'Equal' }],
            topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: labels } }],
            securityContext: { seccompProfile: { type: 'RuntimeDefault' } },
            initContainers: [
              {
                name: 'prepare',
                image: spec.awsCliImage,
                command: ['/bin/sh', '-c', ['set -e', fetchKey, ...(local ? [copyWeights] : []), ...(adapters.length > 0 ? [adapterCopyCommands(adapters, spec.region)] : [])].join('; ')],
                env: [{ name: 'AWS_REGION', value: spec.region }],
                volumeMounts: [
                  { name: 'secrets', mountPath: '/secrets' },
                  ...(modelsVolume ? [{ name: 'models', mountPath: '/models' }] : []),
                ],
                securityContext: { allowPrivilegeEscalation: false },
              },
            ],
            containers: [
              {
                name: 'vllm',
                image: spec.image,
                command: ['/bin/sh', '-c', 'export VLLM_API_KEY="$(cat /secrets/api-key)"; exec vllm serve "$@"', 'vllm'],
                args: vllmArgs,
                ports: [{ name: 'http', containerPort: VLLM_PORT }],
                env: [...Object.entries(VLLM_ENVIRONMENT).map(([name, value]) => ({ name, value })), { name: 'AWS_REGION', value: spec.region }],
                resources: { requests: { 'nvidia.com/gpu': String(spec.gpusPerReplica) }, limits: { 'nvidia.com/gpu': String(spec.gpusPerReplica) } },
                volumeMounts: [
                  { name: 'shm', mountPath: '/dev/shm' },
                  { name: 'secrets', mountPath: '/secrets', readOnly: true },
                  ...(modelsVolume ? [{ name: 'models', mountPath: '/models', readOnly: true }] : []),
                ],
                // /health answers only once the model is loaded: the startup probe carries the load time.
                startupProbe: { httpGet: { path: '/health', port: VLLM_PORT }, periodSeconds: 10, failureThreshold: Math.ceil(spec.startupBudgetSeconds / 10) },
                readinessProbe: { httpGet: { path: '/health', port: VLLM_PORT }, periodSeconds: 10, failureThreshold: 3 },
                livenessProbe: { httpGet: { path: '/health', port: VLLM_PORT }, periodSeconds: 20, failureThreshold: 6 },
                securityContext: { allowPrivilegeEscalation: false },
              },
            ],
            volumes: [
              // vLLM's tensor-parallel workers share memory through /dev/shm.
              { name: 'shm', emptyDir: { medium: 'Memory', sizeLimit: '16Gi' } },
              { name: 'secrets', emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } },
              ...(modelsVolume ? [{ name: 'models', emptyDir: {} }] : []),
            ],
            terminationGracePeriodSeconds: 120,
          },
        },
      },
    }),
    new PodDisruptionBudget({ metadata: { name: 'vllm', namespace, labels }, spec: { maxUnavailable: 1, selector: { matchLabels: labels } } }),
    new Service({
      metadata: {
        name: 'vllm',
        namespace,
        labels,
        // An internal Network Load Balancer: reachable from the VPC only.
        annotations: {
          'service.beta.kubernetes.io/aws-load-balancer-type': 'nlb',
          'service.beta.kubernetes.io/aws-load-balancer-internal': 'true',
          'service.beta.kubernetes.io/aws-load-balancer-cross-zone-load-balancing-enabled': 'true',
        },
      },
      spec: { type: 'LoadBalancer', selector: labels, ports: [{ name: 'http', port: 80, targetPort: VLLM_PORT, protocol: 'TCP' }] },
    }),
    ...(spec.targetWaitingRequests > 0
      ? [
          new HorizontalPodAutoscaler({
            metadata: { name: 'vllm', namespace, labels },
            spec: {
              scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'vllm' },
              minReplicas: spec.replicas,
              maxReplicas: spec.maxReplicas,
              // Needs a metrics adapter serving vLLM's Prometheus metric as a pods metric.
              metrics: [{ type: 'Pods', pods: { metric: { name: 'vllm:num_requests_waiting' }, target: { type: 'AverageValue', averageValue: String(spec.targetWaitingRequests) } } }],
            },
          }),
        ]
      : []),
  ];
  for (const object of objects) object.validate();
  return objects.map((o) => o.toJSON() as Record<string, unknown>);
}

/** The NVIDIA device plugin for AL2023 GPU nodes, from the private ECR (never nvcr.io). Bottlerocket NVIDIA has it built in. */
export function nvidiaDevicePlugin(image: string): Record<string, unknown> {
  const labels = { name: 'nvidia-device-plugin' };
  const daemonSet = new DaemonSet({
    metadata: { name: 'nvidia-device-plugin', namespace: 'kube-system', labels },
    spec: {
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          // Only GPU nodes: on the system nodes (no NVIDIA driver) the plugin crash-loops.
          nodeSelector: { [GPU_NODE_LABEL.key]: GPU_NODE_LABEL.value },
          tolerations: [{ key: GPU_TAINT.key, operator: 'Exists', effect: GPU_TAINT.effect }],
          priorityClassName: 'system-node-critical',
          containers: [
            {
              name: 'nvidia-device-plugin',
              image,
              securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
              volumeMounts: [{ name: 'device-plugin', mountPath: '/var/lib/kubelet/device-plugins' }],
            },
          ],
          volumes: [{ name: 'device-plugin', hostPath: { path: '/var/lib/kubelet/device-plugins' } }],
        },
      },
    },
  });
  daemonSet.validate();
  return daemonSet.toJSON() as Record<string, unknown>;
}
