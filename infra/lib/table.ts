/**
 * The single DynamoDB table (design §3), shaped by `shared/contract/table.json` so the Rust code
 * and the stack cannot drift apart.
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import type { TableContract } from './contract';

export interface CosmosTableProps {
  readonly contract: TableContract;
  /** Keep the table (and turn on deletion protection) when the stack goes away. */
  readonly retain: boolean;
}

const STREAM_VIEWS: Record<TableContract['streamView'], dynamodb.StreamViewType> = {
  NEW_AND_OLD_IMAGES: dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
  NEW_IMAGE: dynamodb.StreamViewType.NEW_IMAGE,
  OLD_IMAGE: dynamodb.StreamViewType.OLD_IMAGE,
  KEYS_ONLY: dynamodb.StreamViewType.KEYS_ONLY,
};

const str = (name: string): dynamodb.Attribute => ({ name, type: dynamodb.AttributeType.STRING });

export class CosmosTable extends Construct {
  public readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, props: CosmosTableProps) {
    super(scope, id);
    const { contract } = props;
    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: str(contract.partitionKey),
      sortKey: contract.sortKey === undefined ? undefined : str(contract.sortKey),
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      // AWS-owned keys are the default; an AWS managed key puts decrypt calls in CloudTrail.
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      stream: STREAM_VIEWS[contract.streamView],
      timeToLiveAttribute: contract.timeToLiveAttribute,
      deletionProtection: props.retain,
      removalPolicy: props.retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    for (const index of contract.indexes) {
      this.table.addGlobalSecondaryIndex({
        indexName: index.indexName,
        partitionKey: str(index.partitionKey),
        sortKey: index.sortKey === undefined ? undefined : str(index.sortKey),
        projectionType: dynamodb.ProjectionType.ALL,
      });
    }
  }
}
