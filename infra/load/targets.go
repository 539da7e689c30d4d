package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/rooms-export/rooms-export/shared/boltstore"
	"github.com/rooms-export/rooms-export/shared/dynamo"
	"github.com/rooms-export/rooms-export/shared/export"
	"github.com/rooms-export/rooms-export/shared/localfs"
	"github.com/rooms-export/rooms-export/shared/s3store"
	"github.com/rooms-export/rooms-export/shared/workspace"
)

// The embedded default's layout under its data directory (shared/embedded
// opens the same paths): the database and the file store.
const (
	embeddedDB    = "rooms-export.db"
	embeddedFiles = "files"
)

// maxItemJSON bounds the JSON of one record loaded into DynamoDB, whose
// items are at most 400 KB (key attributes included): a bigger record is
// reported and skipped instead of failing its whole batch.
const maxItemJSON = 380 << 10

// target is where a load writes: records to sink, upload bytes to blobs
// (and files, for seed files, which name their blobs themselves).
type target struct {
	sink           workspace.Sink
	blobs          workspace.BlobSink
	files          export.FileStore
	maxRecordBytes int
	close          func() error
}

func openTarget(ctx context.Context, c config) (*target, error) {
	if c.to == "aws" {
		return openAWS(ctx, c)
	}
	return openEmbedded(c.dataDir)
}

// openEmbedded opens the data directory's database for a bulk load (no
// fsync per batch; one Sync when done, then boltstore.Compact, so that a
// room's messages lie contiguous in the file and big exports read them
// with a fraction of the page faults) and its file store.
func openEmbedded(dir string) (*target, error) {
	path := filepath.Join(dir, embeddedDB)
	store, err := boltstore.OpenWith(path, boltstore.Options{NoSync: true})
	if err != nil {
		if strings.Contains(err.Error(), "locked by another process") {
			return nil, fmt.Errorf("%w (is the local server running on this data directory? stop it first)", err)
		}
		return nil, err
	}
	// The key signs download links, which a load never makes; the local
	// server keeps its own in link.key.
	key := make([]byte, 32)
	rand.Read(key)
	files, err := localfs.New(filepath.Join(dir, embeddedFiles), key, "")
	if err != nil {
		store.Close()
		return nil, err
	}
	return &target{
		sink: store, blobs: workspace.FileBlobs{Files: files}, files: files,
		close: func() error {
			if err := errors.Join(store.Sync(), store.Close()); err != nil {
				return err
			}
			return boltstore.Compact(path)
		},
	}, nil
}

// openAWS connects to the stack's tables and bucket with the SDK's default
// configuration (profile, environment, SSO ...), pointed at emulators when
// DYNAMODB_ENDPOINT or S3_ENDPOINT are set, as the Lambda functions are.
// It checks that the tables and the bucket exist before anything is read.
func openAWS(ctx context.Context, c config) (*target, error) {
	a := c.aws
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("aws configuration: %w", err)
	}
	db := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.BaseEndpoint = endpoint(a.DynamoDBEndpoint) })
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.BaseEndpoint, o.UsePathStyle = endpoint(a.S3Endpoint), a.S3PathStyle })
	tables := dynamo.Tables{Directory: a.DirectoryTable, Messages: a.MessagesTable, Jobs: a.JobsTable}
	if c.createTables {
		if err := dynamo.CreateTables(ctx, db, tables); err != nil {
			return nil, err
		}
	}
	for _, name := range []string{tables.Directory, tables.Messages, tables.Jobs} {
		_, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
		var nf *types.ResourceNotFoundException
		if errors.As(err, &nf) {
			return nil, fmt.Errorf("table %s does not exist: check the table names (the stack's outputs), or pass --create-tables for an emulator", name)
		}
		if err != nil {
			return nil, fmt.Errorf("table %s: %w", name, err)
		}
	}
	if _, err := s3c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(a.Bucket)}); err != nil {
		return nil, fmt.Errorf("bucket %s: %w", a.Bucket, err)
	}
	files := s3store.New(s3c, s3.NewPresignClient(s3c), a.Bucket)
	return &target{
		sink: dynamo.New(db, tables), blobs: workspace.FileBlobs{Files: files}, files: files,
		maxRecordBytes: maxItemJSON,
		close:          func() error { return nil },
	}, nil
}

// endpoint is an emulator's endpoint, or nil (the SDK's own) when unset.
func endpoint(url string) *string {
	if url == "" {
		return nil
	}
	return aws.String(url)
}

// describeTarget names the target for the summary.
func describeTarget(c config) string {
	if c.to == "aws" {
		if c.aws.DirectoryTable == "" {
			return "the AWS stack"
		}
		return fmt.Sprintf("DynamoDB tables %s, %s, %s and S3 bucket %s", c.aws.DirectoryTable, c.aws.MessagesTable, c.aws.JobsTable, c.aws.Bucket)
	}
	return "the embedded store in " + c.dataDir
}
