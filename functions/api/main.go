// Command api is the API Lambda: API Gateway (REST API, proxy integration)
// → rooms.export, rooms.export.status and the signed download links. The
// service is wired to DynamoDB, S3, SES v2 and the worker Lambda by
// shared/awswire; the rules live in shared/export, the event handling in
// shared/gateway.
package main

import (
	"context"
	"log/slog"
	"os"
	_ "time/tzdata" // IANA zones for the timezone field, whatever the runtime image has

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/rooms-export/rooms-export/shared/awswire"
	"github.com/rooms-export/rooms-export/shared/gateway"
	"github.com/rooms-export/rooms-export/shared/settings"
)

func main() {
	awswire.TuneRuntime(os.Getenv)
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	cfg, err := settings.Load(os.Getenv)
	if err == nil {
		err = cfg.RequireAWS(false)
	}
	if err != nil {
		log.Error("configuration", "error", err.Error())
		os.Exit(1)
	}
	svc, err := awswire.Service(context.Background(), cfg, cfg.AWS.WorkerFunction)
	if err != nil {
		log.Error("wiring", "error", err.Error())
		os.Exit(1)
	}
	h := &gateway.Handler{Service: svc, Log: log, PublicURL: cfg.PublicURL}
	lambda.Start(h.Handle)
}
