import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Validations } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type { IConstruct } from 'constructs';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildApp } from '../lib/app';
import { MIN_REASON_LENGTH } from '../lib/nag';
import { cdkJsonContext, synth } from './helpers';

function acknowledgements(root: IConstruct): { path: string; id: string; reason: string }[] {
  return root.node.findAll().flatMap((c) =>
    c.node.metadata
      .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((m) => Object.entries(m.data as Record<string, string>).map(([id, reason]) => ({ path: c.node.path, id, reason }))),
  );
}

describe('cdk-nag AwsSolutions', () => {
  it('passes on the dev stage with every finding acknowledged for a reason', () => {
    const { app } = synth();
    const acks = acknowledgements(app);
    assert.ok(acks.length > 0);
    for (const ack of acks) {
      assert.match(ack.id, /^AwsSolutions::AwsSolutions-[A-Z]+\d+(\[.+\])?$/, ack.path);
      assert.ok(ack.reason.trim().length >= MIN_REASON_LENGTH, `${ack.path} ${ack.id}: "${ack.reason}"`);
    }
  });

  it('acknowledges only findings cdk-nag actually reports', () => {
    const { app } = synth();
    const report = JSON.parse(fs.readFileSync(path.join(app.outdir, 'validation-report.json'), 'utf8')) as {
      pluginReports: { pluginName: string; suppressedViolations?: { acknowledgedId: string; acknowledgedAt: string }[] }[];
    };
    const used = new Set(
      report.pluginReports.flatMap((r) => r.suppressedViolations ?? []).map((v) => `${v.acknowledgedAt} ${v.acknowledgedId}`),
    );
    assert.ok(used.size > 0);
    for (const ack of acknowledgements(app)) {
      assert.ok(used.has(`${ack.path} ${ack.id}`), `${ack.path} acknowledges ${ack.id}, which nothing violates`);
    }
  });

  it('passes on prod, where Cognito threat protection needs no acknowledgement', () => {
    const { app } = synth({ context: { stage: 'prod', webOrigin: 'https://app.example.com' } });
    assert.ok(!acknowledgements(app).some((a) => a.id.includes('COG8')));
  });

  it('acknowledges no wildcard on the whole stack, only on the construct that needs it', () => {
    const { app, stack } = synth();
    const onStack = acknowledgements(app).filter((a) => a.path === stack.node.path || a.path === '');
    assert.deepEqual(onStack, []);
  });

  it('fails synth on an unacknowledged finding', () => {
    const { app, stack } = buildApp({
      appProps: {
        outdir: fs.mkdtempSync(path.join(os.tmpdir(), 'cosmos-cdk-')),
        builtinCloudFormationValidation: false,
        context: { ...cdkJsonContext(), 'aws:cdk:bundling-stacks': [] },
      },
    });
    new s3.Bucket(stack, 'CarelessBucket');
    assert.throws(() => app.synth(), /Validation failed/);
    const report = JSON.parse(fs.readFileSync(path.join(app.outdir, 'validation-report.json'), 'utf8')) as {
      pluginReports: { pluginName: string; violations: { ruleName: string; violatingConstructs: { constructPath: string }[] }[] }[];
    };
    const violations = report.pluginReports.filter((r) => r.pluginName === 'AwsSolutions').flatMap((r) => r.violations);
    assert.deepEqual(violations.map((v) => v.ruleName).sort(), ['AwsSolutions-S1', 'AwsSolutions-S10']);
    for (const v of violations) {
      assert.deepEqual(v.violatingConstructs.map((c) => c.constructPath), ['cosmos-dev/CarelessBucket/Resource']);
    }
  });
});
