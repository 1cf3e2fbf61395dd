import { CfnOutput, Stack, Validations } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as acmpca from 'aws-cdk-lib/aws-acmpca';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as route53Targets from 'aws-cdk-lib/aws-route53-targets';
import { Construct } from 'constructs';
import { KitConfig, privateDnsLabel } from '../config/schema';

export type InternalTlsSettings = KitConfig['internalTls'];

export interface InternalTlsProps {
  readonly settings: InternalTlsSettings;
  /** The VPC the private hosted zone answers in. */
  readonly vpc: ec2.IVpc;
  /** Names the CA, e.g. "cnllm". */
  readonly prefix: string;
  /** Some stack puts an internal load balancer behind it; without one nothing is created (a CA is billed monthly). */
  readonly needed: boolean;
}

/**
 * What internal load balancers need for TLS without a public domain (there is no public ACM
 * certificate without one, and a public domain in China needs an ICP filing): a private hosted zone
 * in the VPC for their names and, in `private-ca` mode, an ACM Private CA that issues their
 * certificates (ACM renews them). Both exist in the China regions. Nothing in `plain-http` mode.
 */
export class InternalTls extends Construct {
  public readonly settings: InternalTlsSettings;
  public readonly hostedZone?: route53.IPrivateHostedZone;
  public readonly certificateAuthority?: acmpca.ICertificateAuthority;
  /** The kit's own CA's root certificate (PEM): what callers in the VPC must trust. Undefined for an existing CA or without one. */
  public readonly rootCertificatePem?: string;
  /** The file the `InternalCaCertificateCommand` output saves the CA certificate to, for examples that must trust it (`curl --cacert`). Undefined without a private CA. */
  public readonly caCertificateFile?: string;

  /** Where internal load balancers listen. */
  get listenerPort(): number {
    return this.settings.mode === 'plain-http' ? 80 : 443;
  }

  constructor(scope: Construct, id: string, props: InternalTlsProps) {
    super(scope, id);
    const { settings } = props;
    this.settings = settings;
    if (settings.mode === 'plain-http' || !props.needed) return;
    const stack = Stack.of(this);

    this.hostedZone = new route53.PrivateHostedZone(this, 'Zone', { zoneName: settings.domain, vpc: props.vpc, comment: `${props.prefix}: names of the kit's internal load balancers` });
    if (settings.mode !== 'private-ca') return;

    let caArn = settings.certificateAuthorityArn;
    if (!caArn) {
      // A general-purpose CA (short-lived-certificate CAs cannot back ACM certificates); ECDSA keeps its root certificate small.
      const ca = new acmpca.CfnCertificateAuthority(this, 'CertificateAuthority', {
        type: 'ROOT',
        keyAlgorithm: 'EC_prime256v1',
        signingAlgorithm: 'SHA256WITHECDSA',
        usageMode: 'GENERAL_PURPOSE',
        subject: { commonName: `${props.prefix} internal CA`, organization: 'cn-llm-kit' },
      });
      const root = new acmpca.CfnCertificate(this, 'RootCertificate', {
        certificateAuthorityArn: ca.attrArn,
        certificateSigningRequest: ca.attrCertificateSigningRequest,
        signingAlgorithm: 'SHA256WITHECDSA',
        templateArn: `arn:${stack.partition}:acm-pca:::template/RootCACertificate/V1`,
        validity: { type: 'YEARS', value: 10 },
      });
      new acmpca.CfnCertificateAuthorityActivation(this, 'Activation', { certificateAuthorityArn: ca.attrArn, certificate: root.attrCertificate, status: 'ACTIVE' });
      // ACM renews the certificates it issued from this CA before they expire.
      new acmpca.CfnPermission(this, 'AcmRenews', { certificateAuthorityArn: ca.attrArn, principal: 'acm.amazonaws.com', actions: ['IssueCertificate', 'GetCertificate', 'ListPermissions'] });
      caArn = ca.attrArn;
      this.rootCertificatePem = root.attrCertificate;
    }
    this.certificateAuthority = acmpca.CertificateAuthority.fromCertificateAuthorityArn(this, 'Issuer', caArn);

    new CfnOutput(stack, 'InternalCaArn', { value: caArn, description: 'ACM Private CA that issues the internal load balancers\' certificates' });
    this.caCertificateFile = `${props.prefix}-internal-ca.pem`;
    new CfnOutput(stack, 'InternalCaCertificateCommand', {
      value: `aws acm-pca get-certificate-authority-certificate --region ${stack.region} --certificate-authority-arn ${caArn} --query Certificate --output text > ${this.caCertificateFile}`,
      description: 'Saves the CA certificate callers in the VPC trust (NODE_EXTRA_CA_CERTS, SSL_CERT_FILE, REQUESTS_CA_BUNDLE)',
    });
  }
}

/** `<label>.<domain>`, the label made a DNS label. */
export function internalHostname(label: string, domain: string): string {
  return `${privateDnsLabel(label)}.${domain}`;
}

export interface InternalEndpointProps {
  readonly tls: InternalTls;
  readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  /** The first label of the load balancer's name, e.g. the served model name. */
  readonly label: string;
  /** `certificate` mode: the ACM certificate (arn:aws-cn:acm:...) that covers the name. */
  readonly certificateArn?: string;
  readonly defaultTargetGroups: elbv2.IApplicationTargetGroup[];
  /** Said in the plain-HTTP acknowledgement: which config field chose it. */
  readonly what: string;
}

/**
 * The listener of an internal load balancer and the base URL callers use: HTTPS (TLS 1.2 or newer)
 * on a name in the private hosted zone that the certificate covers, or, only when config says
 * `internalTls.mode: plain-http`, HTTP on the load balancer's own DNS name (reported as acknowledged).
 */
export class InternalEndpoint extends Construct {
  public readonly listener: elbv2.ApplicationListener;
  public readonly port: number;
  /** `https://<label>.<domain>` or `http://<load balancer DNS name>`. */
  public readonly origin: string;

  constructor(scope: Construct, id: string, props: InternalEndpointProps) {
    super(scope, id);
    const { tls, loadBalancer } = props;
    const { mode } = tls.settings;

    if (mode === 'plain-http') {
      this.port = 80;
      this.listener = loadBalancer.addListener('Listener', { port: 80, protocol: elbv2.ApplicationProtocol.HTTP, defaultTargetGroups: props.defaultTargetGroups, open: false });
      this.origin = `http://${loadBalancer.loadBalancerDnsName}`;
      const reason = `Plain HTTP inside the VPC chosen explicitly in config (internalTls.mode=plain-http): API keys and prompts reach the ${props.what} load balancer unencrypted. Set internalTls.mode to private-ca or certificate for HTTPS.`;
      for (const id of ['NIST.800.53.R5-ALBHttpToHttpsRedirection', 'NIST.800.53.R5-ELBv2ACMCertificateRequired', 'NIST.800.53.R4-ALBHttpToHttpsRedirection', 'NIST.800.53.R4-ELBv2ACMCertificateRequired', 'HIPAA.Security-ALBHttpToHttpsRedirection', 'HIPAA.Security-ELBv2ACMCertificateRequired']) {
        Validations.of(loadBalancer).acknowledge({ id, reason });
        Validations.of(this.listener).acknowledge({ id, reason });
      }
      return;
    }

    const hostname = internalHostname(props.label, tls.settings.domain);
    const certificateArn =
      mode === 'certificate'
        ? props.certificateArn
        : new acm.PrivateCertificate(this, 'Certificate', { domainName: hostname, certificateAuthority: tls.certificateAuthority! }).certificateArn;
    if (!certificateArn) throw new Error(`InternalEndpoint: internalTls.mode certificate needs the ${props.what} certificateArn (config validation should have said so)`);
    this.port = 443;
    this.listener = loadBalancer.addListener('Listener', {
      port: 443,
      protocol: elbv2.ApplicationProtocol.HTTPS,
      certificates: [elbv2.ListenerCertificate.fromArn(certificateArn)],
      // TLS 1.3 and 1.2 only.
      sslPolicy: elbv2.SslPolicy.RECOMMENDED_TLS,
      defaultTargetGroups: props.defaultTargetGroups,
      open: false,
    });
    new route53.ARecord(this, 'Name', {
      zone: tls.hostedZone!,
      recordName: hostname,
      target: route53.RecordTarget.fromAlias(new route53Targets.LoadBalancerTarget(loadBalancer)),
    });
    this.origin = `https://${hostname}`;
  }
}
