import { CallerDimensions, OTHER_CALLERS, stableCaller } from '../../runtime/gateway/caller';

describe('the caller as a metric dimension', () => {
  test.each([
    ['arn:aws-cn:sts::123456789012:assumed-role/GatewayCaller/ci-job-8841', 'arn:aws-cn:iam::123456789012:role/GatewayCaller'],
    ['arn:aws:sts::210987654321:assumed-role/AWSReservedSSO_Admin_0f1e2d3c/alice@example.com', 'arn:aws:iam::210987654321:role/AWSReservedSSO_Admin_0f1e2d3c'],
    ['arn:aws-cn:sts::123456789012:assumed-role/app.role+ci=x,y@z_-/i-0abc/extra', 'arn:aws-cn:iam::123456789012:role/app.role+ci=x,y@z_-'],
    // Already stable: roles with or without a path, users, API keys, the local runner.
    ['arn:aws-cn:iam::123456789012:role/service-role/team/Reader', 'arn:aws-cn:iam::123456789012:role/service-role/team/Reader'],
    ['arn:aws-cn:iam::123456789012:user/ops/alice', 'arn:aws-cn:iam::123456789012:user/ops/alice'],
    ['arn:aws-cn:sts::123456789012:federated-user/bob', 'arn:aws-cn:sts::123456789012:federated-user/bob'],
    ['api-key:k-3f9a', 'api-key:k-3f9a'],
    ['local', 'local'],
  ])('%s -> %s', (caller, dimension) => {
    expect(stableCaller(caller)).toBe(dimension);
  });

  test('sessions of one role share one dimension value', () => {
    const dims = new CallerDimensions();
    const values = new Set(Array.from({ length: 500 }, (_, i) => dims.of(`arn:aws-cn:sts::123456789012:assumed-role/Batch/session-${i}`)));
    expect([...values]).toEqual(['arn:aws-cn:iam::123456789012:role/Batch']);
  });

  test('at most the cap of distinct values per process; callers seen before keep theirs, new ones become "other"', () => {
    const dims = new CallerDimensions(3);
    expect(['a', 'b', 'c'].map((c) => dims.of(`api-key:${c}`))).toEqual(['api-key:a', 'api-key:b', 'api-key:c']);
    expect(dims.of('api-key:d')).toBe(OTHER_CALLERS);
    expect(dims.of('api-key:b')).toBe('api-key:b');
    expect(dims.of('arn:aws-cn:sts::123456789012:assumed-role/New/s')).toBe(OTHER_CALLERS);
  });
});
