import { Template } from 'aws-cdk-lib/assertions';
import { NIST80053R5Checks } from 'cdk-nag';
import { acknowledgementReason, ComplianceLedger, withLedger } from '../../lib/checks/compliance-ledger';
import { kitApp } from '../helpers/kit-app';
import { resourcesOf } from '../helpers/template';
import { nagFindings } from '../helpers/nag';

const CERT = 'arn:aws-cn:acm:cn-northwest-1:111122223333:certificate/0a1b2c3d-1111-2222-3333-444455556666';
const DOOR_CERT = 'arn:aws-cn:acm:cn-northwest-1:111122223333:certificate/0a1b2c3d-1111-2222-3333-777788889999';
const door = { 'gateway.streamingDoor.enabled': 'true' };

/** The Fn::ImportValue / literal a template holds, as text, to tell where a value comes from. */
const text = (v: unknown) => JSON.stringify(v);

function listeners(template: Template) {
  return resourcesOf(template, 'AWS::ElasticLoadBalancingV2::Listener').map((l) => l.Properties);
}

/** A JSON value in a template, deploy-time values (tokens) as "TOKEN". */
function jsonOf(value: unknown): any {
  if (typeof value === 'string') return JSON.parse(value);
  const parts: unknown[] = (value as { 'Fn::Join': [string, unknown[]] })['Fn::Join'][1];
  return JSON.parse(parts.map((p) => (typeof p === 'string' ? p : 'TOKEN')).join(''));
}

function gatewaySettings(template: Template) {
  const fn = resourcesOf(template, 'AWS::Lambda::Function').find((f) => f.Properties.Handler === 'index.handler')!.Properties;
  return jsonOf(fn.Environment.Variables.CNLLM_GATEWAY_CONFIG) as { routeRegistry?: { caCertificates?: string[] } };
}

/** The route a vLLM stack writes to the registry the gateway reads at run time. */
function registeredRoute(template: Template) {
  return jsonOf(resourcesOf(template, 'AWS::SSM::Parameter')[0].Properties.Value) as { baseUrl: string };
}

describe('internal TLS, default: the kit\'s own ACM Private CA', () => {
  const { kit, config } = kitApp(door);
  const network = Template.fromStack(kit.network!);
  const vllm = Template.fromStack(kit.vllmEc2!);
  const gateway = Template.fromStack(kit.gateway!);

  test('the mode and domain default to private-ca and <prefix>.internal', () => {
    expect(config.internalTls).toEqual({ mode: 'private-ca', domain: 'cnllm.internal', trustedCaCertificates: [] });
  });

  test('Network: a general-purpose root CA, activated with its self-signed certificate, that ACM may renew from; a private zone in the VPC', () => {
    const [ca] = resourcesOf(network, 'AWS::ACMPCA::CertificateAuthority');
    expect(ca.Properties).toEqual(expect.objectContaining({ Type: 'ROOT', UsageMode: 'GENERAL_PURPOSE', KeyAlgorithm: 'EC_prime256v1', SigningAlgorithm: 'SHA256WITHECDSA' }));
    const [root] = resourcesOf(network, 'AWS::ACMPCA::Certificate');
    expect(root.Properties.TemplateArn).toBe('arn:aws-cn:acm-pca:::template/RootCACertificate/V1');
    network.hasResourceProperties('AWS::ACMPCA::CertificateAuthorityActivation', { Status: 'ACTIVE' });
    network.hasResourceProperties('AWS::ACMPCA::Permission', { Principal: 'acm.amazonaws.com', Actions: ['IssueCertificate', 'GetCertificate', 'ListPermissions'] });
    const [zone] = resourcesOf(network, 'AWS::Route53::HostedZone');
    expect(zone.Properties.Name).toBe('cnllm.internal.');
    expect(zone.Properties.VPCs).toHaveLength(1);
    expect(Object.keys(network.toJSON().Outputs)).toEqual(expect.arrayContaining(['InternalCaArn', 'InternalCaCertificateCommand']));
  });

  test('vLLM: HTTPS only (TLS 1.2+), a certificate from the CA for its private name, an alias record, https base URL', () => {
    expect(listeners(vllm)).toEqual([expect.objectContaining({ Port: 443, Protocol: 'HTTPS', SslPolicy: 'ELBSecurityPolicy-TLS13-1-2-2021-06' })]);
    const [cert] = resourcesOf(vllm, 'AWS::CertificateManager::Certificate');
    expect(cert.Properties.DomainName).toBe('qwen2-5-1-5b-instruct.cnllm.internal');
    // The CA comes from the Network stack, which every workload stack builds on already.
    expect(text(cert.Properties.CertificateAuthorityArn)).toContain('"StackName":"cnllm-Network"');
    expect(text(listeners(vllm)[0].Certificates)).toContain('"Ref"');
    const [record] = resourcesOf(vllm, 'AWS::Route53::RecordSet');
    expect(record.Properties).toEqual(expect.objectContaining({ Name: 'qwen2-5-1-5b-instruct.cnllm.internal.', Type: 'A', AliasTarget: expect.anything() }));
    vllm.hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: 'Internal load balancer of vLLM qwen2.5-1.5b-instruct',
      SecurityGroupIngress: [{ CidrIp: '10.80.0.0/16', FromPort: 443, ToPort: 443, IpProtocol: 'tcp', Description: 'Callers inside the VPC' }],
    });
    expect(vllm.toJSON().Outputs.BaseUrlqwen2515binstruct.Value).toBe('https://qwen2-5-1-5b-instruct.cnllm.internal/v1');
  });

  test('the example call trusts the CA through the file the Network stack\'s command saves (curl knows no private CA)', () => {
    const saveCommand = text(network.toJSON().Outputs.InternalCaCertificateCommand.Value);
    expect(saveCommand).toMatch(/--output text > cnllm-internal-ca\.pem"/);
    expect(text(vllm.toJSON().Outputs.ExampleCallqwen2515binstruct.Value)).toMatch(/^\{"Fn::Join":\["",\["curl --cacert cnllm-internal-ca\.pem https:\/\/qwen2-5-1-5b-instruct\.cnllm\.internal\/v1\/chat\/completions /);
  });

  test('the gateway registers the https name (no load balancer reference), trusts the CA\'s root certificate for it, and opens no plain-HTTP egress', () => {
    expect(registeredRoute(Template.fromStack(kit.vllmEc2!)).baseUrl).toBe('https://qwen2-5-1-5b-instruct.cnllm.internal/v1');
    expect(gatewaySettings(gateway).routeRegistry?.caCertificates).toEqual(['TOKEN']);
    const env = text(resourcesOf(gateway, 'AWS::Lambda::Function').find((f) => f.Properties.Handler === 'index.handler')!.Properties.Environment);
    expect(env).toMatch(/"OutputName":"[A-Za-z0-9]*InternalTlsRootCertificate[A-Za-z0-9]*Certificate/);
    const egress = text(resourcesOf(gateway, 'AWS::EC2::SecurityGroup').map((g) => g.Properties.SecurityGroupEgress));
    expect(egress).not.toContain('"FromPort":80');
  });

  test('the streaming door: HTTPS on streaming.<domain>', () => {
    expect(listeners(gateway)).toEqual([expect.objectContaining({ Port: 443, Protocol: 'HTTPS' })]);
    expect(resourcesOf(gateway, 'AWS::CertificateManager::Certificate')[0].Properties.DomainName).toBe('streaming.cnllm.internal');
    expect(gateway.toJSON().Outputs.StreamingBaseUrl.Value).toBe('https://streaming.cnllm.internal/v1');
  });

  test('no unacknowledged findings in any stack', () => {
    for (const stack of [kit.network!, kit.vllmEc2!, kit.gateway!]) expect(nagFindings(stack).filter((f) => f.severity === 'error')).toEqual([]);
  });
});

describe('internal TLS options', () => {
  test('an existing CA: nothing created in Network, certificates issued from it', () => {
    const arn = 'arn:aws-cn:acm-pca:cn-northwest-1:111122223333:certificate-authority/11112222-3333-4444-5555-666677778888';
    const { kit } = kitApp({ 'internalTls.certificateAuthorityArn': arn });
    Template.fromStack(kit.network!).resourceCountIs('AWS::ACMPCA::CertificateAuthority', 0);
    expect(resourcesOf(Template.fromStack(kit.vllmEc2!), 'AWS::CertificateManager::Certificate')[0].Properties.CertificateAuthorityArn).toBe(arn);
  });

  test('no internal load balancer (vLLM on EC2 and the door off): no CA to pay for, no zone', () => {
    const network = Template.fromStack(kitApp({ 'stacks.vllmEc2': 'false' }).kit.network!);
    network.resourceCountIs('AWS::ACMPCA::CertificateAuthority', 0);
    network.resourceCountIs('AWS::Route53::HostedZone', 0);
  });

  test('certificate: your ACM certificates on the private names, no CA', () => {
    const { kit } = kitApp({ ...door, 'internalTls.mode': 'certificate', 'internalTls.domain': 'llm.corp.internal', 'vllmEc2.certificateArn': CERT, 'gateway.streamingDoor.certificateArn': DOOR_CERT });
    Template.fromStack(kit.network!).resourceCountIs('AWS::ACMPCA::CertificateAuthority', 0);
    const vllm = Template.fromStack(kit.vllmEc2!);
    expect(listeners(vllm)).toEqual([expect.objectContaining({ Port: 443, Protocol: 'HTTPS', Certificates: [{ CertificateArn: CERT }] })]);
    vllm.resourceCountIs('AWS::CertificateManager::Certificate', 0);
    expect(vllm.toJSON().Outputs.BaseUrlqwen2515binstruct.Value).toBe('https://qwen2-5-1-5b-instruct.llm.corp.internal/v1');
    expect(listeners(Template.fromStack(kit.gateway!))).toEqual([expect.objectContaining({ Port: 443, Certificates: [{ CertificateArn: DOOR_CERT }] })]);
  });

  test('certificate issued by your own CA: the gateway trusts the CA certificates you list, and only PEM certificates are accepted (a private key is refused without being echoed)', () => {
    const pem = '-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ2Vu\n-----END CERTIFICATE-----\n';
    const mode = { ...door, 'internalTls.mode': 'certificate', 'vllmEc2.certificateArn': CERT, 'gateway.streamingDoor.certificateArn': DOOR_CERT };
    const { kit } = kitApp({ ...mode, 'internalTls.trustedCaCertificates': [pem] });
    expect(gatewaySettings(Template.fromStack(kit.gateway!)).routeRegistry?.caCertificates).toEqual([pem]);
    expect(() => kitApp({ ...mode, 'internalTls.trustedCaCertificates': ['-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----'] })).toThrow(/internalTls\.trustedCaCertificates\[0\] = \(a private key: not shown\): must be PEM certificates/);
  });

  test('plain-http, chosen explicitly: HTTP listeners, no zone or CA, and an acknowledgement that names the config choice', () => {
    const { kit } = kitApp({ ...door, 'internalTls.mode': 'plain-http' });
    const network = Template.fromStack(kit.network!);
    network.resourceCountIs('AWS::ACMPCA::CertificateAuthority', 0);
    network.resourceCountIs('AWS::Route53::HostedZone', 0);
    const vllm = Template.fromStack(kit.vllmEc2!);
    expect(listeners(vllm)).toEqual([expect.objectContaining({ Port: 80, Protocol: 'HTTP' })]);
    expect(text(vllm.toJSON().Outputs.BaseUrlqwen2515binstruct.Value)).toMatch(/^\{"Fn::Join":\["",\["http:\/\//);
    expect(text(vllm.toJSON().Outputs.ExampleCallqwen2515binstruct.Value)).toMatch(/^\{"Fn::Join":\["",\["curl http:\/\//);
    expect(registeredRoute(vllm).baseUrl).toMatch(/^http:\/\/TOKEN\/v1$/);
    const gateway = Template.fromStack(kit.gateway!);
    expect(gatewaySettings(gateway).routeRegistry?.caCertificates).toBeUndefined();
    expect(text(resourcesOf(gateway, 'AWS::EC2::SecurityGroup').map((g) => g.Properties.SecurityGroupEgress))).toContain('"FromPort":80');
    for (const service of [kit.vllmEc2!.services['qwen2.5-1.5b-instruct'], kit.gateway!.streamingDoor!]) {
      for (const rule of ['NIST.800.53.R5-ALBHttpToHttpsRedirection', 'NIST.800.53.R5-ELBv2ACMCertificateRequired']) {
        expect(acknowledgementReason(service.loadBalancer.node.defaultChild!, rule)).toMatch(/internalTls\.mode=plain-http/);
      }
    }
  });

  test('plain-http in a NIST 800-53 r5 report: the HTTP-listener findings are acknowledged, naming the config choice; with TLS they are compliant', () => {
    const httpRules = ['NIST.800.53.R5-ALBHttpToHttpsRedirection', 'NIST.800.53.R5-ELBv2ACMCertificateRequired'];
    const evaluate = (extra: Record<string, string>) => {
      const ledger = new ComplianceLedger();
      const pack = new (withLedger(NIST80053R5Checks))();
      pack.ledger = ledger;
      pack.validateScope(kitApp(extra).kit.vllmEc2!);
      return ledger.evaluations.filter((e) => httpRules.includes(e.ruleId) && e.outcome !== 'not-applicable');
    };
    const plain = evaluate({ 'internalTls.mode': 'plain-http' });
    expect(plain.map((e) => e.ruleId).sort()).toEqual(httpRules);
    for (const e of plain) expect(e).toEqual(expect.objectContaining({ outcome: 'acknowledged', reason: expect.stringContaining('internalTls.mode=plain-http') }));
    expect(evaluate({}).map((e) => [e.ruleId, e.outcome]).sort()).toEqual(httpRules.map((r) => [r, 'compliant']));
  });

  test('config mistakes fail synth naming the field and the fix', () => {
    expect(() => kitApp({ 'internalTls.mode': 'certificate' })).toThrow(/vllmEc2\.certificateArn[^\n]*is required with internalTls\.mode certificate/);
    expect(() => kitApp({ 'vllmEc2.certificateArn': CERT, ...door })).toThrow(/gateway\.streamingDoor\.certificateArn[^\n]*chosen because another certificateArn is set/);
    expect(() => kitApp({ 'internalTls.mode': 'plain-http', 'vllmEc2.certificateArn': CERT })).toThrow(/vllmEc2\.certificateArn[^\n]*only with internalTls\.mode certificate/);
    expect(() => kitApp({ 'internalTls.mode': 'plain-http', 'internalTls.certificateAuthorityArn': 'arn:aws-cn:acm-pca:cn-northwest-1:111122223333:certificate-authority/1111' })).toThrow(/internalTls\.certificateAuthorityArn/);
    expect(() => kitApp({ 'internalTls.mode': 'https' })).toThrow(/internalTls\.mode[^\n]*private-ca, certificate or plain-http/);
    const twins = JSON.stringify([
      { id: 'Qwen/Qwen2.5-1.5B-Instruct', servedName: 'qwen2.5', parametersBillions: 1.5 },
      { id: 'Qwen/Qwen2.5-1.5B-Instruct', servedName: 'qwen2-5', parametersBillions: 1.5 },
    ]);
    expect(() => kitApp({ models: twins })).toThrow(/models\[1\]\.servedName[^\n]*same private name/);
  });
});
