import { CfnResource, Fn, Stack, Validations } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as eks from 'aws-cdk-lib/aws-eks';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { chinaEc2Principal, LAMBDA_RUNTIME_LIFECYCLE } from '../../lib/china/china';
import { lambdaSection } from '../../lib/config/schema/operations';
import { CHINA_RULES } from '../../lib/checks/china-region-checks';
import { chinaFindings } from '../helpers/nag';
import { newApp } from '../helpers/kit-app';

const GLOBAL_ACCOUNT = '444455556666';

/** Builds resources in a fresh cn-northwest-1 stack and returns the ChinaRegion rule ids that fired. */
function firedRules(build: (stack: Stack) => void, region = 'cn-northwest-1'): string[] {
  const stack = new Stack(newApp(), 'Subject', { env: { account: '111122223333', region } });
  build(stack);
  return [...new Set(chinaFindings(stack, { globalAccounts: [GLOBAL_ACCOUNT] }).map((f) => f.rule.replace(/\[.*\]$/, '')))];
}

/** Full finding ids, e.g. `ChinaRegion-NoUnreachableSources[huggingface.co]`. */
function findingIds(build: (stack: Stack) => void): string[] {
  const stack = new Stack(newApp(), 'Subject', { env: { account: '111122223333', region: 'cn-northwest-1' } });
  build(stack);
  return chinaFindings(stack, { globalAccounts: [GLOBAL_ACCOUNT] }).map((f) => f.rule);
}

const fn = (stack: Stack, id: string, props: Partial<lambda.FunctionProps> = {}) =>
  new lambda.Function(stack, id, {
    runtime: lambda.Runtime.NODEJS_22_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('exports.handler = async () => ({})'),
    ...props,
  });

describe('ChinaRegion-NoEdgeEndpoint', () => {
  test('fires on a RestApi left at the default (EDGE) endpoint and on an explicit EDGE domain', () => {
    expect(
      firedRules((s) => {
        new apigw.RestApi(s, 'Api').root.addMethod('GET', undefined, { authorizationType: apigw.AuthorizationType.IAM });
        new apigw.CfnDomainName(s, 'Domain', { domainName: 'api.example.cn', endpointConfiguration: { types: ['EDGE'] } });
      }),
    ).toEqual(['ChinaRegion-NoEdgeEndpoint']);
  });

  test('passes REGIONAL and PRIVATE endpoints', () => {
    expect(
      firedRules((s) => {
        new apigw.CfnRestApi(s, 'Regional', { name: 'r', endpointConfiguration: { types: ['REGIONAL'] } });
        new apigw.CfnRestApi(s, 'Private', { name: 'p', endpointConfiguration: { types: ['PRIVATE'] } });
      }),
    ).toEqual([]);
  });
});

describe('ChinaRegion-NoGlobalPartitionArn', () => {
  test('fires on a literal arn:aws: managed policy and bucket, naming each ARN', () => {
    const ids = findingIds((s) => {
      new iam.Role(s, 'Role', {
        assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
        managedPolicies: [iam.ManagedPolicy.fromManagedPolicyArn(s, 'Admin', 'arn:aws:iam::aws:policy/ReadOnlyAccess')],
      }).addToPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [Fn.join('', ['arn:aws:s3:::', 'weights', '/*'])] }));
    });
    expect(ids).toEqual(
      expect.arrayContaining(['ChinaRegion-NoGlobalPartitionArn[arn:aws:iam::aws:policy/ReadOnlyAccess]', 'ChinaRegion-NoGlobalPartitionArn[arn:aws:s3:::weights/*]']),
    );
  });

  test('passes partition-aware ARNs and the global account\'s Bedrock resources', () => {
    expect(
      firedRules((s) => {
        const role = new iam.Role(s, 'Role', {
          assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
          managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('ReadOnlyAccess')],
        });
        role.addToPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [s.formatArn({ service: 's3', region: '', account: '', resource: 'weights/*' })] }));
        fn(s, 'Fn', {
          role,
          environment: {
            PROFILE_ARN: `arn:aws:bedrock:us-east-1:${GLOBAL_ACCOUNT}:inference-profile/us.amazon.nova-lite-v1:0`,
            MODEL_ARN: 'arn:aws:bedrock:us-east-2::foundation-model/amazon.nova-lite-v1:0',
          },
        });
      }),
    ).toEqual([]);
  });
});

describe('ChinaRegion-NoLambdaFunctionUrl', () => {
  test('fires on a function URL', () => {
    expect(firedRules((s) => fn(s, 'Fn').addFunctionUrl({ authType: lambda.FunctionUrlAuthType.AWS_IAM }))).toEqual(['ChinaRegion-NoLambdaFunctionUrl']);
  });

  test('passes a function without one', () => {
    expect(firedRules((s) => fn(s, 'Fn'))).toEqual([]);
  });
});

describe('ChinaRegion-NoCognitoAuthorizer', () => {
  const api = (s: Stack) => new apigw.CfnRestApi(s, 'Api', { name: 'a', endpointConfiguration: { types: ['REGIONAL'] } });

  test('fires on a Cognito user pool authorizer', () => {
    const fired = firedRules((s) => {
      new apigw.CfnAuthorizer(s, 'Auth', { restApiId: api(s).ref, name: 'c', type: 'COGNITO_USER_POOLS', providerArns: [s.formatArn({ service: 'cognito-idp', resource: 'userpool', resourceName: 'x' })] });
    });
    expect(fired).toEqual(['ChinaRegion-NoCognitoAuthorizer']);
  });

  test('passes an IAM-authorized method', () => {
    expect(
      firedRules((s) => {
        const a = api(s);
        new apigw.CfnMethod(s, 'Get', { restApiId: a.ref, resourceId: a.attrRootResourceId, httpMethod: 'GET', authorizationType: 'AWS_IAM', integration: { type: 'MOCK' } });
      }),
    ).toEqual([]);
  });
});

describe('ChinaRegion-IamAuthorizedApi (ICP licence)', () => {
  test('fires on REST methods and HTTP API routes that are not IAM-authorized', () => {
    const fired = findingIds((s) => {
      const api = new apigw.RestApi(s, 'Api', { endpointTypes: [apigw.EndpointType.REGIONAL] });
      api.root.addMethod('GET');
      api.root.addMethod('POST', undefined, { apiKeyRequired: true });
      const http = new apigwv2.CfnApi(s, 'Http', { name: 'h', protocolType: 'HTTP' });
      new apigwv2.CfnRoute(s, 'Route', { apiId: http.ref, routeKey: 'GET /x', authorizationType: 'NONE' });
    });
    expect(fired.filter((r) => r === 'ChinaRegion-IamAuthorizedApi')).toHaveLength(3);
  });

  test('passes IAM-authorized methods and routes, and can be acknowledged for an ICP-licensed account', () => {
    expect(
      firedRules((s) => {
        const api = new apigw.RestApi(s, 'Api', { endpointTypes: [apigw.EndpointType.REGIONAL] });
        api.root.addMethod('GET', undefined, { authorizationType: apigw.AuthorizationType.IAM });
        const keyOnly = api.root.addResource('public').addMethod('GET', undefined, { apiKeyRequired: true });
        Validations.of(keyOnly).acknowledge({ id: 'ChinaRegion-IamAuthorizedApi', reason: 'ICP licence 京ICP备00000000号 is linked to this account.' });
        const http = new apigwv2.CfnApi(s, 'Http', { name: 'h', protocolType: 'HTTP' });
        new apigwv2.CfnRoute(s, 'Route', { apiId: http.ref, routeKey: 'GET /x', authorizationType: 'AWS_IAM' });
      }),
    ).toEqual([]);
  });
});

describe('ChinaRegion-PrivateEcrImagesOnly', () => {
  const taskWith = (s: Stack, ...images: ecs.ContainerImage[]) => {
    const task = new ecs.FargateTaskDefinition(s, 'Task');
    images.forEach((image, i) => task.addContainer(`c${i}`, { image }));
  };

  test('fires on Docker Hub, nvcr.io and another region\'s ECR, naming each image', () => {
    const ids = findingIds((s) =>
      taskWith(
        s,
        ecs.ContainerImage.fromRegistry('vllm/vllm-openai:v0.9.0'),
        ecs.ContainerImage.fromRegistry('nvcr.io/nvidia/k8s-device-plugin:v0.17.0'),
        ecs.ContainerImage.fromRegistry('111122223333.dkr.ecr.us-east-1.amazonaws.com/vllm:1'),
      ),
    );
    expect(ids).toEqual(
      expect.arrayContaining([
        'ChinaRegion-PrivateEcrImagesOnly[vllm/vllm-openai:v0.9.0]',
        'ChinaRegion-PrivateEcrImagesOnly[nvcr.io/nvidia/k8s-device-plugin:v0.17.0]',
        'ChinaRegion-PrivateEcrImagesOnly[111122223333.dkr.ecr.us-east-1.amazonaws.com/vllm:1]',
      ]),
    );
  });

  test('fires on a Kubernetes manifest and a Helm chart that pull from outside', () => {
    const fired = firedRules((s) => {
      new CfnResource(s, 'Manifest', {
        type: 'Custom::AWSCDK-EKS-KubernetesResource',
        properties: { Manifest: JSON.stringify([{ kind: 'Deployment', spec: { template: { spec: { containers: [{ name: 'v', image: 'docker.io/vllm/vllm-openai:latest' }] } } } }]) },
      });
      new CfnResource(s, 'Chart', { type: 'Custom::AWSCDK-EKS-HelmChart', properties: { Chart: 'x', Repository: 'https://nvidia.github.io/k8s-device-plugin' } });
    });
    expect(fired).toContain('ChinaRegion-PrivateEcrImagesOnly');
  });

  test('passes images from this region\'s private ECR, CodeBuild curated images and OCI charts in ECR', () => {
    expect(
      firedRules((s) => {
        const repo = new ecr.Repository(s, 'Repo', { imageScanOnPush: true });
        taskWith(
          s,
          ecs.ContainerImage.fromEcrRepository(repo, 'v1'),
          ecs.ContainerImage.fromRegistry('727897471807.dkr.ecr.cn-northwest-1.amazonaws.com.cn/pytorch-inference:2.5'),
        );
        new codebuild.PipelineProject(s, 'Build', { environment: { buildImage: codebuild.LinuxBuildImage.STANDARD_7_0 } });
        new CfnResource(s, 'Manifest', {
          type: 'Custom::AWSCDK-EKS-KubernetesResource',
          properties: { Manifest: JSON.stringify([{ spec: { containers: [{ image: '111122223333.dkr.ecr.cn-northwest-1.amazonaws.com.cn/cnllm/vllm:v0.9.0' }] } }]) },
        });
        new CfnResource(s, 'Chart', {
          type: 'Custom::AWSCDK-EKS-HelmChart',
          properties: { Chart: 'x', Repository: 'oci://111122223333.dkr.ecr.cn-northwest-1.amazonaws.com.cn/charts/x' },
        });
      }).filter((r) => r === 'ChinaRegion-PrivateEcrImagesOnly'),
    ).toEqual([]);
  });
});

describe('ChinaRegion-NoUnreachableSources', () => {
  const vpc = (s: Stack) => new ec2.Vpc(s, 'Vpc', { availabilityZones: ['cn-northwest-1a', 'cn-northwest-1b'], natGateways: 0, restrictDefaultSecurityGroup: false });

  test('fires on user data that downloads from huggingface.co and a Lambda env naming ghcr.io', () => {
    const ids = findingIds((s) => {
      const userData = ec2.UserData.forLinux();
      userData.addCommands('huggingface-cli download Qwen/Qwen2.5-1.5B-Instruct --endpoint https://huggingface.co');
      new ec2.LaunchTemplate(s, 'Lt', { userData, machineImage: ec2.MachineImage.latestAmazonLinux2023(), requireImdsv2: true });
      fn(s, 'Fn', { environment: { CHART_REPO: 'https://charts.ghcr.io/x' } });
      vpc(s);
    });
    expect(ids).toEqual(expect.arrayContaining(['ChinaRegion-NoUnreachableSources[huggingface.co]', 'ChinaRegion-NoUnreachableSources[ghcr.io]']));
  });

  test('passes user data that copies weights from the in-region bucket', () => {
    expect(
      firedRules((s) => {
        const userData = ec2.UserData.forLinux();
        userData.addCommands('aws s3 cp --recursive s3://cnllm-weights/Qwen/Qwen2.5-1.5B-Instruct /opt/models/qwen', 'export HF_HUB_OFFLINE=1');
        new ec2.LaunchTemplate(s, 'Lt', { userData, machineImage: ec2.MachineImage.fromSsmParameter('/aws/service/ecs/optimized-ami/amazon-linux-2023/gpu/recommended/image_id'), requireImdsv2: true });
      }),
    ).toEqual([]);
  });
});

describe('ChinaRegion-EksNodeRoleTrustsChinaEc2', () => {
  const nodegroup = (s: Stack, role: iam.Role) =>
    new eks.CfnNodegroup(s, 'Nodes', { clusterName: 'c', nodeRole: role.roleArn, subnets: ['subnet-0aaa1111'], amiType: 'BOTTLEROCKET_x86_64_NVIDIA' });

  test('fires when the node role trusts only ec2.amazonaws.com', () => {
    expect(firedRules((s) => nodegroup(s, new iam.Role(s, 'NodeRole', { assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com') })))).toEqual([
      'ChinaRegion-EksNodeRoleTrustsChinaEc2',
    ]);
  });

  test('passes a node role that trusts both EC2 principals', () => {
    expect(firedRules((s) => nodegroup(s, new iam.Role(s, 'NodeRole', { assumedBy: chinaEc2Principal() })))).toEqual([]);
  });
});

describe('ChinaRegion-LambdaRuntimeConfirmedInChina', () => {
  test('warns on a Node.js runtime not confirmed in China', () => {
    const stack = new Stack(newApp(), 'Subject', { env: { account: '111122223333', region: 'cn-northwest-1' } });
    fn(stack, 'Fn', { runtime: lambda.Runtime.NODEJS_24_X });
    expect(chinaFindings(stack)).toEqual([{ rule: 'ChinaRegion-LambdaRuntimeConfirmedInChina', severity: 'warning', path: 'Subject/Fn/Resource' }]);
  });

  test('passes nodejs22.x', () => {
    expect(firedRules((s) => fn(s, 'Fn', { runtime: lambda.Runtime.NODEJS_22_X }))).toEqual([]);
  });
});

describe('ChinaRegion-LambdaRuntimeDeprecated and -LambdaRuntimeCreationBlocked (Lambda\'s deprecation schedule)', () => {
  /** Findings of a China stack with one function on `runtime`, judged on `today`. */
  const onDay = (runtime: lambda.Runtime, today: string) => {
    const stack = new Stack(newApp(), 'Subject', { env: { account: '111122223333', region: 'cn-northwest-1' } });
    fn(stack, 'Fn', { runtime });
    return chinaFindings(stack, { today }).filter((f) => f.rule.startsWith('ChinaRegion-LambdaRuntimeDeprecated') || f.rule.startsWith('ChinaRegion-LambdaRuntimeCreationBlocked'));
  };

  test('nodejs20.x: a warning from its deprecation day (2026-04-30), an error from the day creation is blocked (2027-02-01)', () => {
    expect(onDay(lambda.Runtime.NODEJS_20_X, '2026-04-29')).toEqual([]);
    expect(onDay(lambda.Runtime.NODEJS_20_X, '2026-12-02')).toEqual([{ rule: 'ChinaRegion-LambdaRuntimeDeprecated', severity: 'warning', path: 'Subject/Fn/Resource' }]);
    expect(onDay(lambda.Runtime.NODEJS_20_X, '2027-02-01')).toEqual([{ rule: 'ChinaRegion-LambdaRuntimeCreationBlocked', severity: 'error', path: 'Subject/Fn/Resource' }]);
  });

  test('the default nodejs22.x and python3.12 pass today\'s schedule; Python runtimes are judged too; runtimes off the table are not', () => {
    expect(onDay(lambda.Runtime.NODEJS_22_X, '2026-12-02')).toEqual([]);
    expect(onDay(lambda.Runtime.PYTHON_3_12, '2026-12-02')).toEqual([]);
    expect(onDay(lambda.Runtime.PYTHON_3_11, '2027-07-31').map((f) => f.rule)).toEqual(['ChinaRegion-LambdaRuntimeCreationBlocked']);
    expect(onDay(new lambda.Runtime('python3.14', lambda.RuntimeFamily.PYTHON, { supportsInlineCode: true }), '2030-01-01')).toEqual([]);
  });

  test('the schedule covers every runtime lambda.runtime and lambda.pythonRuntime accept, with dates in order', () => {
    const accepted = [...lambdaSection.unwrap().shape.runtime.unwrap().options, ...lambdaSection.unwrap().shape.pythonRuntime.unwrap().options];
    expect(Object.keys(LAMBDA_RUNTIME_LIFECYCLE).sort()).toEqual([...accepted].sort());
    for (const dates of Object.values(LAMBDA_RUNTIME_LIFECYCLE)) expect([dates.deprecated, dates.createBlocked, dates.updateBlocked]).toEqual([dates.deprecated, dates.createBlocked, dates.updateBlocked].sort());
  });
});

describe('the pack', () => {
  test('only judges stacks in China regions (the global Bedrock side is out of scope)', () => {
    expect(firedRules((s) => new apigw.CfnRestApi(s, 'Api', { name: 'edge' }), 'us-east-1')).toEqual([]);
    expect(firedRules((s) => new apigw.CfnRestApi(s, 'Api', { name: 'edge' }), 'cn-north-1')).toEqual(['ChinaRegion-NoEdgeEndpoint']);
  });

  test('every rule has a unique id and says why it exists', () => {
    const ids = CHINA_RULES.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const rule of CHINA_RULES) expect(rule.explanation.length).toBeGreaterThan(60);
  });
});
