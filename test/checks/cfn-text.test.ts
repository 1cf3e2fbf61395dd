import { cfnText, cfnTexts, findArns, pseudoValues } from '../../lib/checks/cfn-text';

const env = {
  pseudo: pseudoValues('aws-cn', 'cn-northwest-1', '111122223333', 'amazonaws.com.cn'),
  conditions: {
    IsChina: { 'Fn::Equals': [{ Ref: 'AWS::Partition' }, 'aws-cn'] },
    NotChina: { 'Fn::Not': [{ Condition: 'IsChina' }] },
    Unknown: { 'Fn::Equals': [{ Ref: 'SomeParameter' }, 'x'] },
  },
};

describe('cfnText renders intrinsics as CloudFormation will in a China stack', () => {
  test('pseudo parameters in Join and Sub', () => {
    expect(cfnText({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3:::b']] }, env)).toBe('arn:aws-cn:s3:::b');
    expect(cfnText({ 'Fn::Sub': 'arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:${Group}' }, env)).toBe(
      'arn:aws-cn:logs:cn-northwest-1:111122223333:log-group:{Ref:Group}',
    );
    expect(cfnText({ 'Fn::Sub': ['${Host}/x', { Host: { 'Fn::Join': ['.', ['a', { Ref: 'AWS::URLSuffix' }]] } }] }, env)).toBe('a.amazonaws.com.cn/x');
  });

  test('Select over a Split of a known string, placeholders for what only exists at deploy time', () => {
    expect(cfnText({ 'Fn::Select': [1, { 'Fn::Split': [':', 'a:b:c'] }] }, env)).toBe('b');
    expect(cfnText({ 'Fn::Select': [4, { 'Fn::Split': [':', { 'Fn::GetAtt': ['Repo', 'Arn'] }] }] }, env)).toBe('{Select}');
    expect(cfnText({ 'Fn::ImportValue': 'x' }, env)).toBe('{ImportValue:x}');
  });

  test('Fn::If follows conditions it can decide and keeps both branches otherwise', () => {
    expect(cfnText({ 'Fn::If': ['IsChina', 'cn', 'global'] }, env)).toBe('cn');
    expect(cfnText({ 'Fn::If': ['NotChina', 'global', 'cn'] }, env)).toBe('cn');
    expect(cfnText({ 'Fn::If': ['Unknown', 'a', 'b'] }, env)).toBe('a | b');
  });

  test('user data in Fn::Base64 is read as text', () => {
    expect(cfnTexts({ UserData: { 'Fn::Base64': { 'Fn::Join': ['', ['#!/bin/bash\n', 'curl https://huggingface.co/x']] } } }, env)).toEqual([
      '#!/bin/bash\ncurl https://huggingface.co/x',
    ]);
  });
});

describe('findArns', () => {
  test('finds ARNs embedded in longer text and parses their parts', () => {
    const arns = findArns(['aws s3 cp s3://b/x . # arn:aws-cn:s3:::b/x and arn:aws:bedrock:us-east-1:444455556666:inference-profile/us.amazon.nova-pro-v1:0']);
    expect(arns.map((a) => [a.partition, a.service, a.region, a.account])).toEqual([
      ['aws-cn', 's3', '', ''],
      ['aws', 'bedrock', 'us-east-1', '444455556666'],
    ]);
  });

  test('an unresolved partition stays visible as a placeholder', () => {
    const envNoPseudo = { pseudo: {} };
    expect(findArns([cfnText({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::aws:policy/X']] }, envNoPseudo)])[0].partition).toBe('{Ref:AWS::Partition}');
  });
});
