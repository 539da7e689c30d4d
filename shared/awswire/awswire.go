// Package awswire builds the export service the way both Lambda functions
// run it: on DynamoDB, S3, SES v2 and a Lambda to hand background runs to,
// with the SDK's default configuration (credentials from the function's
// role) pointed at emulators where the settings name endpoints. The API
// function and the worker differ only in the function their background runs
// go to and in what they serve.
package awswire

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/rooms-export/rooms-export/shared/dynamo"
	"github.com/rooms-export/rooms-export/shared/export"
	"github.com/rooms-export/rooms-export/shared/lambdainvoke"
	"github.com/rooms-export/rooms-export/shared/s3store"
	"github.com/rooms-export/rooms-export/shared/sesmail"
	"github.com/rooms-export/rooms-export/shared/settings"
)

// Service returns the export service on the stack's tables, bucket and
// mail, whose background runs are dispatched to the Lambda function
// dispatchTo. Its Config is cfg.Export with the assets pass reading ahead
// (export.RemoteAssetsAhead): store calls wait on the network.
func Service(ctx context.Context, cfg settings.Settings, dispatchTo string) (*export.Service, error) {
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("aws configuration: %w", err)
	}
	a := cfg.AWS
	db := dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) { o.BaseEndpoint = endpoint(a.DynamoDBEndpoint) })
	s3c := s3.NewFromConfig(awsCfg, func(o *s3.Options) { o.BaseEndpoint, o.UsePathStyle = endpoint(a.S3Endpoint), a.S3PathStyle })
	ses := sesv2.NewFromConfig(awsCfg, func(o *sesv2.Options) { o.BaseEndpoint = endpoint(a.SESEndpoint) })
	lam := awslambda.NewFromConfig(awsCfg, func(o *awslambda.Options) { o.BaseEndpoint = endpoint(a.LambdaEndpoint) })

	store := dynamo.New(db, dynamo.Tables{Directory: a.DirectoryTable, Messages: a.MessagesTable, Jobs: a.JobsTable})
	c := cfg.Export
	c.AssetsAhead = export.RemoteAssetsAhead
	return &export.Service{
		Directory: store, Messages: store, Jobs: store, Limiter: store,
		Files:      s3store.New(s3c, s3.NewPresignClient(s3c), a.Bucket),
		Mailer:     sesmail.New(ses),
		Dispatcher: lambdainvoke.New(lam, dispatchTo),
		Links:      export.LinkSigner{Key: []byte(a.LinkSigningKey)},
		Config:     c,
	}, nil
}

// endpoint is an emulator's endpoint, or nil (the SDK's own) when unset.
func endpoint(url string) *string {
	if url == "" {
		return nil
	}
	return aws.String(url)
}
