/**
 * cdk-nag acknowledgements, in one shape: every finding we accept is acknowledged on the construct
 * that causes it (never stack-wide), with a reason a reviewer can check. Tests hold every
 * acknowledgement to a minimum length so "n/a" cannot slip in.
 */
import { Stack, Validations } from 'aws-cdk-lib';
import { flattenCfnReference } from 'cdk-nag/lib/utils/flatten-cfn-reference';
import type { IConstruct } from 'constructs';

/** Shortest reason we accept: long enough to say what and why. */
export const MIN_REASON_LENGTH = 40;

/** The validation plugin namespace cdk-nag's AwsSolutions pack reports under. */
const NAMESPACE = 'AwsSolutions::';

/**
 * Acknowledges one cdk-nag finding (`AwsSolutions-XX` or `AwsSolutions-XX[finding]`) on `scope`,
 * qualified with the plugin namespace as cdk-nag prints it (`AwsSolutions::AwsSolutions-XX`):
 * an unqualified id would be taken for a CDK annotation id.
 */
export function acknowledge(scope: IConstruct, id: string, reason: string): void {
  if (reason.trim().length < MIN_REASON_LENGTH) {
    throw new Error(`acknowledgement of ${id} at ${scope.node.path} needs a real reason`);
  }
  Validations.of(scope).acknowledge({ id: id.startsWith(NAMESPACE) ? id : `${NAMESPACE}${id}`, reason });
}

/**
 * The `Resource::...` text cdk-nag prints for a (tokenized) ARN, e.g. `Resource::<Table1234.Arn>/index/*`
 * for `${table.tableArn}/index/*`. Rendered by cdk-nag's own flattener from the resolved token, so
 * acknowledgements follow logical ids and the stack's environment instead of hard-coding them.
 */
export function nagResource(scope: IConstruct, arn: string): string {
  return `Resource::${flattenCfnReference(Stack.of(scope).resolve(arn))}`;
}
