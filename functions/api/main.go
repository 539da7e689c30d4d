// Command api is the API Lambda: API Gateway (REST API, proxy integration)
// → rooms.export, rooms.export.status and the signed download links. It
// wires the export service to DynamoDB, S3, SES v2 and the worker Lambda;
// the rules live in shared/export, the event handling in shared/gateway.
package main

import (
	"context"
	"log/slog"
	"os"
	_ "time/tzdata" // IANA zones for the timezone field, whatever the runtime image has

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/rooms-export/rooms-export/shared/dynamo"
	"github.com/rooms-export/rooms-export/shared/export"
	"github.com/rooms-export/rooms-export/shared/gateway"
	"github.com/rooms-export/rooms-export/shared/lambdainvoke"
	"github.com/rooms-export/rooms-export/shared/s3store"
	"github.com/rooms-export/rooms-export/shared/sesmail"
	"github.com/rooms-export/rooms-export/shared/settings"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	cfg, err := settings.Load(os.Getenv)
	if err == nil {
		err = cfg.RequireAWS(false)
	}
	if err != nil {
		log.Error("configuration", "error", err.Error())
		os.Exit(1)
	}
	awsCfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		log.Error("aws configuration", "error", err.Error())
		os.Exit(1)
	}
	a := cfg.AWS
	db := dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) { o.BaseEndpoint = endpoint(a.DynamoDBEndpoint) })
	s3c := s3.NewFromConfig(awsCfg, func(o *s3.Options) { o.BaseEndpoint, o.UsePathStyle = endpoint(a.S3Endpoint), a.S3PathStyle })
	ses := sesv2.NewFromConfig(awsCfg, func(o *sesv2.Options) { o.BaseEndpoint = endpoint(a.SESEndpoint) })
	lam := awslambda.NewFromConfig(awsCfg, func(o *awslambda.Options) { o.BaseEndpoint = endpoint(a.LambdaEndpoint) })

	store := dynamo.New(db, dynamo.Tables{Directory: a.DirectoryTable, Messages: a.MessagesTable, Jobs: a.JobsTable})
	svc := &export.Service{
		Directory: store, Messages: store, Jobs: store, Limiter: store,
		Files:      s3store.New(s3c, s3.NewPresignClient(s3c), a.Bucket),
		Mailer:     sesmail.New(ses),
		Dispatcher: lambdainvoke.New(lam, a.WorkerFunction),
		Links:      export.LinkSigner{Key: []byte(a.LinkSigningKey)},
		Config:     remoteConfig(cfg.Export),
	}
	h := &gateway.Handler{Service: svc, Log: log, PublicURL: cfg.PublicURL}
	lambda.Start(h.Handle)
}

// endpoint is an emulator's endpoint, or nil (the SDK's own) when unset.
func endpoint(url string) *string {
	if url == "" {
		return nil
	}
	return aws.String(url)
}

// remoteConfig is the service's configuration on DynamoDB: the assets pass
// reads ahead during the document pass (store calls wait on the network).
func remoteConfig(c export.Config) export.Config {
	c.AssetsAhead = export.RemoteAssetsAhead
	return c
}
