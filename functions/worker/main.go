// Command worker is the worker Lambda: it runs background exports handed
// over by the API function (an asynchronous Invoke with {"jobId": ...}) and
// re-drives jobs that arrive through the export queue. It runs the same
// export service as the API function (shared/awswire). A run that is out
// of time leaves a checkpoint and invokes the worker again.
package main

import (
	"context"
	"log/slog"
	"os"
	_ "time/tzdata" // IANA zones for rendered times

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/rooms-export/rooms-export/shared/awswire"
	"github.com/rooms-export/rooms-export/shared/settings"
)

func main() {
	awswire.TuneRuntime(os.Getenv)
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	cfg, err := settings.Load(os.Getenv)
	if err == nil {
		err = cfg.RequireAWS(true)
	}
	if err != nil {
		log.Error("configuration", "error", err.Error())
		os.Exit(1)
	}
	// A run that is out of time checkpoints and invokes this function again
	// to go on.
	svc, err := awswire.Service(context.Background(), cfg, cfg.AWS.FunctionName)
	if err != nil {
		log.Error("wiring", "error", err.Error())
		os.Exit(1)
	}
	w := &Worker{Run: svc.Run, Log: log}
	lambda.Start(w.Handle)
}
