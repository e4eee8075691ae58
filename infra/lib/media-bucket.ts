/**
 * The media bucket (design §7): private, TLS only, S3-managed encryption, written and read only
 * through presigned URLs, with CORS for the web client's origin.
 *
 * Unattached uploads expire by tag, not by prefix: `upload-presign` signs the header
 * `x-amz-tagging: upload=pending` into every presigned PUT, and whichever function attaches the
 * object (a message, an avatar, a server icon) removes the tag (DeleteObjectTagging). Objects still
 * tagged `upload=pending` a day later are deleted by the lifecycle rule below. Keys stay
 * `media/<entityId>/<kind>/<ulid>.<ext>` for their whole life (no copy on attach).
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';

/** The object tag marking an upload no message or profile references yet. */
export const PENDING_UPLOAD_TAG = { key: 'upload', value: 'pending' } as const;

export interface MediaBucketProps {
  /** Origins allowed to PUT/GET from a browser (the web client). */
  readonly webOrigins: readonly string[];
  /** Keep the buckets when the stack goes away. */
  readonly retain: boolean;
}

export class MediaBucket extends Construct {
  public readonly bucket: s3.Bucket;
  public readonly accessLogs: s3.Bucket;

  constructor(scope: Construct, id: string, props: MediaBucketProps) {
    super(scope, id);
    const removalPolicy = props.retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;

    this.accessLogs = new s3.Bucket(this, 'AccessLogs', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      encryption: s3.BucketEncryption.S3_MANAGED,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ id: 'expire-access-logs', expiration: Duration.days(90) }],
      removalPolicy,
    });
    this.bucket = new s3.Bucket(this, 'Bucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      encryption: s3.BucketEncryption.S3_MANAGED,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: false,
      serverAccessLogsBucket: this.accessLogs,
      serverAccessLogsPrefix: 'media/',
      cors: [
        {
          allowedOrigins: [...props.webOrigins],
          allowedMethods: [s3.HttpMethods.PUT, s3.HttpMethods.GET, s3.HttpMethods.HEAD],
          // Presigned PUTs carry the signed content type, disposition and x-amz-tagging headers.
          allowedHeaders: ['content-type', 'content-disposition', 'x-amz-*'],
          exposedHeaders: ['ETag'],
          maxAge: 3600,
        },
      ],
      lifecycleRules: [
        {
          id: 'expire-unattached-uploads',
          tagFilters: { [PENDING_UPLOAD_TAG.key]: PENDING_UPLOAD_TAG.value },
          expiration: Duration.days(1),
        },
        { id: 'abort-incomplete-multipart-uploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
      removalPolicy,
    });
  }
}
