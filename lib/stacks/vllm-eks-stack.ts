import { KubectlV35Layer } from '@aws-cdk/lambda-layer-kubectl-v35';
import { CfnCondition, CfnJson, CfnOutput, CfnResource, Duration, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as eks from 'aws-cdk-lib/aws-eks-v2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { chinaEc2Principal } from '../china/china';
import { grantSecretRead } from '../china/secret-read';
import { grantModelRead } from '../constructs/grant-model-read';
import { DISTILL_PATHS } from '../../runtime/operator/distill-layout';
import { servedAdapters } from '../vllm/adapters';
import { names } from '../config/names';
import { registeredRoutes } from '../config/vllm-routes';
import { VllmRouteRegistration } from '../constructs/route-registry';
import { effectiveDtype, nodeVolumeGiB, tensorParallelSize } from '../gpu/sizing';
import { GPU_NODE_LABEL, GPU_TAINT, namespaceOf, NODE_GROUP_LABEL, nvidiaDevicePlugin, vllmWorkload } from '../k8s/vllm-workload';
import { vllmTaskArgs } from '../vllm/server';
import { ChinaStack, ChinaStackProps } from './china-stack';
import { kitKey } from '../constructs/kit-key';

/**
 * The volume that holds container images and pod storage: the root volume on AL2023, but on
 * Bottlerocket a separate data volume (xvda is its small OS volume; xvdb stays 20 GiB unless sized).
 */
const AL2023_DATA_DEVICE = '/dev/xvda';
const BOTTLEROCKET_DATA_DEVICE = '/dev/xvdb';
/** GPU node volume besides the vLLM image and the weights (OS or logs, kubelet, the awscli image). */
const GPU_NODE_BASE_GIB = 60;

export interface VllmEksStackProps extends ChinaStackProps {
  readonly vpc: ec2.IVpc;
  readonly subnets: ec2.SubnetSelection;
  readonly registryHost: string;
  readonly weightsKey: kms.IKey;
}

/**
 * vLLM on EKS GPU node groups in China: a private cluster with control-plane logging and envelope
 * encryption, a small system node group, one GPU node group per served model (Bottlerocket NVIDIA by
 * default), and the workloads as typed, schema-validated Kubernetes objects.
 */
export class VllmEksStack extends ChinaStack {
  public readonly cluster: eks.Cluster;
  public readonly nodeRole: iam.Role;
  /** Per served model: the OpenAI base URL of its internal NLB, known once the deploy has waited for it. */
  public readonly services: Record<string, { readonly baseUrl: string }> = {};
  /** Per served model: the secret holding vLLM's --api-key. */
  public readonly apiKeys: Record<string, secretsmanager.ISecret> = {};
  /** Encrypts the API key secrets (their readers need kms:Decrypt on it). */
  public readonly apiKeysKey: kms.IKey;

  constructor(scope: Construct, id: string, props: VllmEksStackProps) {
    super(scope, id, props);
    const { config } = props;
    const settings = config.vllmEks;
    const n = names(config);

    const key = kitKey(this, 'Key', { description: `Envelope-encrypts ${config.prefix} EKS secrets` });
    // A separate key for the API key secrets: pod roles on its policy would otherwise close a cycle (key -> pod role -> OIDC -> cluster -> key).
    const apiKeysKey = (this.apiKeysKey = kitKey(this, 'ApiKeysKey', { description: `Encrypts ${config.prefix} vLLM API keys on EKS` }));
    this.cluster = new eks.Cluster(this, 'Cluster', {
      clusterName: `${config.prefix}-vllm`,
      version: eks.KubernetesVersion.of(settings.kubernetesVersion),
      vpc: props.vpc,
      vpcSubnets: [props.subnets],
      endpointAccess: settings.endpointAccess === 'PRIVATE' ? eks.EndpointAccess.PRIVATE : eks.EndpointAccess.PUBLIC_AND_PRIVATE.onlyFrom(...settings.publicAccessCidrs),
      clusterLogging: [eks.ClusterLoggingTypes.API, eks.ClusterLoggingTypes.AUDIT, eks.ClusterLoggingTypes.AUTHENTICATOR, eks.ClusterLoggingTypes.CONTROLLER_MANAGER, eks.ClusterLoggingTypes.SCHEDULER],
      secretsEncryptionKey: key,
      // Node groups, not Auto Mode: Auto Mode's managed policies were reported missing in aws-cn.
      defaultCapacityType: eks.DefaultCapacityType.NODEGROUP,
      defaultCapacity: 0,
      kubectlProviderOptions: { kubectlLayer: new KubectlV35Layer(this, 'KubectlLayer') },
    });
    this.acknowledgeCdkInternals();
    if (settings.adminRoleArn) {
      this.cluster.grantAccess('Admin', settings.adminRoleArn, [eks.AccessPolicy.fromAccessPolicyName('AmazonEKSClusterAdminPolicy', { accessScopeType: eks.AccessScopeType.CLUSTER })]);
    }

    // Managed node groups in China have been reported to need the China EC2 principal too.
    this.nodeRole = new iam.Role(this, 'NodeRole', {
      assumedBy: chinaEc2Principal(),
      description: 'EKS nodes of the vLLM cluster',
      managedPolicies: ['AmazonEKSWorkerNodePolicy', 'AmazonEC2ContainerRegistryReadOnly', 'AmazonEKS_CNI_Policy', 'AmazonSSMManagedInstanceCore'].map((p) => iam.ManagedPolicy.fromAwsManagedPolicyName(p)),
    });
    Validations.of(this.nodeRole).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonEKSWorkerNodePolicy]',
      reason: 'The AWS managed policies are what EKS documents for managed node groups (kubelet, CNI, image pulls, Session Manager).',
    });
    for (const policy of ['AmazonEC2ContainerRegistryReadOnly', 'AmazonEKS_CNI_Policy', 'AmazonSSMManagedInstanceCore']) {
      Validations.of(this.nodeRole).acknowledge({ id: `AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/${policy}]`, reason: 'Documented managed node group policy (kubelet, CNI, image pulls from the private ECR, Session Manager).' });
    }

    this.cluster.addNodegroupCapacity('System', {
      nodegroupName: 'system',
      instanceTypes: [new ec2.InstanceType(settings.systemInstanceType)],
      amiType: eks.NodegroupAmiType.AL2023_X86_64_STANDARD,
      minSize: settings.systemNodes,
      maxSize: settings.systemNodes + 1,
      desiredSize: settings.systemNodes,
      nodeRole: this.nodeRole,
      subnets: props.subnets,
      labels: { [NODE_GROUP_LABEL]: 'system' },
      launchTemplateSpec: this.launchTemplate('SystemLaunchTemplate', 50, AL2023_DATA_DEVICE),
    });

    const image = (name: 'vllm' | 'awscli' | 'deviceplugin') => n.pinnedImage(props.registryHost, name);
    if (settings.gpuAmi === 'AL2023') this.cluster.addManifest('NvidiaDevicePlugin', nvidiaDevicePlugin(image('deviceplugin')));

    const routes = registeredRoutes(config, 'eks');
    for (const model of config.models) {
      const nodeGroup = `gpu-${namespaceOf(model.servedName).slice('vllm-'.length)}`.slice(0, 63);
      const spec = { ...model, ...model.vllm };
      this.cluster.addNodegroupCapacity(`Gpu-${model.servedName}`, {
        nodegroupName: nodeGroup,
        instanceTypes: [new ec2.InstanceType(model.instanceType)],
        amiType: settings.gpuAmi === 'BOTTLEROCKET' ? eks.NodegroupAmiType.BOTTLEROCKET_X86_64_NVIDIA : eks.NodegroupAmiType.AL2023_X86_64_NVIDIA,
        capacityType: model.spot ? eks.CapacityType.SPOT : eks.CapacityType.ON_DEMAND,
        minSize: model.minInstances,
        maxSize: model.maxInstances,
        ...(model.desiredInstances !== undefined && { desiredSize: model.desiredInstances }),
        nodeRole: this.nodeRole,
        subnets: props.subnets,
        labels: { [NODE_GROUP_LABEL]: nodeGroup, [GPU_NODE_LABEL.key]: GPU_NODE_LABEL.value },
        taints: [{ key: GPU_TAINT.key, value: GPU_TAINT.value, effect: eks.TaintEffect.NO_SCHEDULE }],
        // Images and emptyDir volumes live on the kubelet's volume: the weights copy lands there too (never on NVMe).
        launchTemplateSpec: this.launchTemplate(
          `GpuLaunchTemplate-${model.servedName}`,
          nodeVolumeGiB(GPU_NODE_BASE_GIB, spec, model.vllm.loadFormat === 'local'),
          settings.gpuAmi === 'BOTTLEROCKET' ? BOTTLEROCKET_DATA_DEVICE : AL2023_DATA_DEVICE,
        ),
      });

      const apiKey = new secretsmanager.Secret(this, `ApiKey-${model.servedName}`, {
        // Under the prefix the gateway may read: it finds this secret through the route registry, not by reference.
        secretName: n.vllmApiKeySecret('eks', model.servedName),
        description: `vLLM --api-key for ${model.servedName} on EKS`,
        encryptionKey: apiKeysKey,
        generateSecretString: { passwordLength: 48, excludePunctuation: true },
      });
      Validations.of(apiKey).acknowledge({ id: 'AwsSolutions-SMG4', reason: 'vLLM reads its API key at pod start: rotate by putting a new value and restarting the Deployment (kubectl rollout restart).' });

      const namespace = namespaceOf(model.servedName);
      const podRole = this.podRole(`PodRole-${model.servedName}`, namespace);
      const modelPrefix = n.modelPrefix(model);
      grantModelRead(podRole, { bucketName: n.weightsBucket, prefix: modelPrefix, reason: 'Pods read only their own model revision\'s prefix of the weights bucket.' });
      for (const adapter of model.adapters) {
        grantModelRead(podRole, { bucketName: n.weightsBucket, prefix: DISTILL_PATHS.adapter(adapter.name, adapter.version), reason: `Pods read only the prefix of adapter ${adapter.name} ${adapter.version}; the wildcard covers its files.` });
      }
      props.weightsKey.grantDecrypt(podRole);
      grantSecretRead(apiKey, apiKeysKey, podRole);

      const workload = vllmWorkload({
        servedName: model.servedName,
        image: image('vllm'),
        awsCliImage: image('awscli'),
        region: this.region,
        modelS3Uri: `s3://${n.weightsBucket}/${modelPrefix}`,
        apiKeySecretArn: apiKey.secretArn,
        podRoleArn: podRole.roleArn,
        replicas: Math.max(1, model.desiredInstances ?? model.minInstances),
        maxReplicas: model.maxInstances,
        gpusPerReplica: tensorParallelSize(spec),
        maxModelLen: model.vllm.maxModelLen,
        gpuMemoryUtilization: model.vllm.gpuMemoryUtilization,
        dtype: effectiveDtype(spec),
        loadFormat: model.vllm.loadFormat,
        extraArgs: [...vllmTaskArgs(model.task), ...model.vllm.extraArgs],
        adapters: servedAdapters(model, n.weightsBucket),
        lora: model.vllm,
        nodeGroup,
        startupBudgetSeconds: settings.startupBudgetSeconds,
        targetWaitingRequests: settings.targetWaitingRequests,
      });
      const manifest = this.cluster.addManifest(`Vllm-${model.servedName}`, ...workload);
      // Kubernetes names the NLB only after the Service exists: the deploy waits for its hostname (it
      // comes within a minute or two, long before the model is loaded) and registers it for the gateway.
      const loadBalancer = new eks.KubernetesObjectValue(this, `LoadBalancer-${model.servedName}`, {
        cluster: this.cluster,
        objectType: 'service',
        objectName: 'vllm',
        objectNamespace: namespace,
        jsonPath: '.status.loadBalancer.ingress[0].hostname',
        timeout: Duration.minutes(settings.loadBalancerWaitMinutes),
      });
      loadBalancer.node.addDependency(manifest);
      this.services[model.servedName] = { baseUrl: `http://${loadBalancer.value}/v1` };
      this.apiKeys[model.servedName] = apiKey;
      // The model's own route and one per LoRA adapter it loads: same server, the adapter's name as the model.
      for (const route of routes.filter((r) => r.host === model.servedName)) {
        const id = route.servedName === model.servedName ? `Route-${model.servedName}` : `Route-${model.servedName}-lora-${route.servedName}`;
        new VllmRouteRegistration(this, id, { config, route, baseUrl: this.services[model.servedName].baseUrl, apiKeySecretArn: apiKey.secretArn });
      }
      new CfnOutput(this, `BaseUrl-${model.servedName}`, { value: this.services[model.servedName].baseUrl, description: `OpenAI base URL of ${model.servedName} (internal NLB, inside the VPC)` });
      new CfnOutput(this, `ServedModelName-${model.servedName}`, { value: model.servedName });
      new CfnOutput(this, `ApiKeySecretArn-${model.servedName}`, { value: apiKey.secretArn });
    }

    new CfnOutput(this, 'KubeconfigCommand', {
      value: `aws eks update-kubeconfig --region ${this.region} --name ${this.cluster.clusterName}${settings.adminRoleArn ? ` --role-arn ${settings.adminRoleArn}` : ''}`,
      description: 'Configure kubectl for the cluster (from inside the VPC when the endpoint is private)',
    });
  }

  /** The cluster role and CDK's kubectl provider come with AWS managed policies the EKS module sets. */
  private acknowledgeCdkInternals() {
    const reasonFor: Record<string, string> = {
      'AmazonEKSClusterPolicy': 'The EKS cluster service role policy AWS documents for every cluster.',
      'service-role/AWSLambdaBasicExecutionRole': 'CDK\'s kubectl provider functions (they apply the manifests) write only their own logs.',
      'service-role/AWSLambdaVPCAccessExecutionRole': 'CDK\'s kubectl handler runs in the VPC to reach the private cluster endpoint.',
      'AmazonEC2ContainerRegistryReadOnly': 'Set by CDK on the kubectl handler (Helm OCI pulls from ECR).',
    };
    for (const [policy, reason] of Object.entries(reasonFor)) {
      Validations.of(this.cluster).acknowledge({ id: `AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/${policy}]`, reason });
    }
    const handler = this.cluster.node.findChild('KubectlProvider').node.findChild('Handler');
    const handlerId = this.resolve((handler.node.defaultChild as CfnResource).logicalId);
    const ecrPublicCondition = handler.node.findAll().find((c): c is CfnCondition => c instanceof CfnCondition)!;
    Validations.of(this.cluster).acknowledge({
      id: `AwsSolutions-IAM4[Policy::{"Fn::If":["${this.resolve(ecrPublicCondition.logicalId)}",{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},":iam::aws:policy/AmazonElasticContainerRegistryPublicReadOnly"]]},{"Ref":"AWS::NoValue"}]}]`,
      reason: 'CDK attaches the ECR Public policy only where ECR Public exists (condition on the partition): never in China, where this stack deploys.',
    });
    Validations.of(this.cluster).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${handlerId}.Arn>:*]`,
      reason: 'CDK\'s provider framework may invoke any version of its own kubectl handler function.',
    });
    Validations.of(this.cluster).acknowledge({
      id: 'CloudFormation-Validate::W9009',
      reason: 'CDK\'s EKS module sets EncryptionConfig.Resources (["secrets"]); the property still works and the warning is about its future.',
    });
  }

  /** IMDSv2 with one hop (pods cannot reach the node's credentials), an encrypted gp3 volume for images and pod storage. */
  private launchTemplate(id: string, volumeGiB: number, deviceName: string): eks.LaunchTemplateSpec {
    const template = new ec2.LaunchTemplate(this, id, {
      requireImdsv2: true,
      httpPutResponseHopLimit: 1,
      blockDevices: [{ deviceName, volume: ec2.BlockDeviceVolume.ebs(volumeGiB, { volumeType: ec2.EbsDeviceVolumeType.GP3, encrypted: true }) }],
    });
    return { id: template.launchTemplateId!, version: template.latestVersionNumber };
  }

  /** A role one service account assumes through IRSA (token audience sts.amazonaws.com, also in China). */
  private podRole(id: string, namespace: string): iam.Role {
    const issuer = this.cluster.openIdConnectProvider.openIdConnectProviderIssuer;
    const conditions = new CfnJson(this, `${id}Conditions`, {
      value: { [`${issuer}:sub`]: `system:serviceaccount:${namespace}:vllm`, [`${issuer}:aud`]: 'sts.amazonaws.com' },
    });
    return new iam.Role(this, id, {
      assumedBy: new iam.OpenIdConnectPrincipal(this.cluster.openIdConnectProvider).withConditions({ StringEquals: conditions }),
      description: `vLLM pods of ${namespace}`,
    });
  }
}

