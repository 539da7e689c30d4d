package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/rooms-export/rooms-export/infra/bench/gen"
	"github.com/rooms-export/rooms-export/shared/awstest"
	"github.com/rooms-export/rooms-export/shared/chat"
	"github.com/rooms-export/rooms-export/shared/dynamo"
	"github.com/rooms-export/rooms-export/shared/export"
	"github.com/rooms-export/rooms-export/shared/localfs"
	"github.com/rooms-export/rooms-export/shared/maildir"
)

// pageSize is the page of both the raw Query and the service (its default).
const pageSize = 500

// awsResult is the AWS leg: one room read three ways against dynalite.
type awsResult struct {
	Messages    int
	LoadSeconds float64
	Raw         []pass // the raw Query, before and after the exports
	Adapter     pass   // dynamo.Store.MessagePage, page after page
	Exports     []exportPass
}

// pass is one walk over the room.
type pass struct {
	Items   int
	Seconds float64
	// EmuCPU and OwnCPU are the processor seconds dynalite and this process
	// used during the pass: a pass whose EmuCPU is close to Seconds is bound
	// by the emulator, which serves one request at a time.
	EmuCPU, OwnCPU float64
}

// cpuMeter measures a pass's processor time on both sides.
type cpuMeter struct {
	emu        *awstest.Emulator
	emu0, own0 time.Duration
}

func startCPU(emu *awstest.Emulator) cpuMeter {
	m := cpuMeter{emu: emu, own0: ownCPU()}
	m.emu0, _ = emu.CPUTime()
	return m
}

// stop fills in p's processor times.
func (m cpuMeter) stop(p *pass) {
	p.OwnCPU = (ownCPU() - m.own0).Seconds()
	if e, err := m.emu.CPUTime(); err == nil {
		p.EmuCPU = (e - m.emu0).Seconds()
	}
}

// ownCPU is the processor time this process used so far.
func ownCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func (p pass) rate() float64 { return float64(p.Items) / p.Seconds }

type exportPass struct {
	Format string
	pass
	Bytes int64
	Calls map[string]callStat // DynamoDB calls the export made
}

// bestRaw is the faster raw pass: the ratio against it is the conservative one.
func (r awsResult) bestRaw() pass {
	best := r.Raw[0]
	for _, p := range r.Raw[1:] {
		if p.rate() > best.rate() {
			best = p
		}
	}
	return best
}

// benchAWS starts dynalite, loads an n-message room through the DynamoDB
// adapter, and reads it back three ways in one run: a raw paginated Query
// (the SDK alone: 500 per page, the adapter's projection), the adapter's
// MessagePage walk, and a whole export through the service on the adapter
// (the archive goes to a local file store: the point is the store's paging).
// The raw Query runs before and after the exports, so that neither side
// gets a warmer emulator.
func benchAWS(ctx context.Context, o options, n int, progress io.Writer) (awsResult, error) {
	res := awsResult{Messages: n}
	emu, err := awstest.Start(awstest.DynamoDB)
	if err != nil {
		return res, err
	}
	defer emu.Stop()
	var counted calls
	client := dynamodb.NewFromConfig(awstest.Config(emu.Endpoint), func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, counted.add)
	})
	tables := dynamo.Tables{Directory: "bench-directory", Messages: "bench-messages", Jobs: "bench-jobs"}
	if err := dynamo.CreateTables(ctx, client, tables); err != nil {
		return res, err
	}
	store := dynamo.New(client, tables)

	fmt.Fprintf(progress, "bench: loading %s messages into dynalite ... ", thousands(n))
	start := time.Now()
	h, _, err := gen.Generate(ctx, store, gen.Config{Messages: n, Seed: o.seed})
	if err != nil {
		return res, err
	}
	res.LoadSeconds = time.Since(start).Seconds()
	fmt.Fprintf(progress, "%.1f s\n", res.LoadSeconds)

	dir, err := os.MkdirTemp(o.dir, "bench-aws-")
	if err != nil {
		return res, fmt.Errorf("temporary files: %w", err)
	}
	defer os.RemoveAll(dir)
	svc, err := awsService(store, dir)
	if err != nil {
		return res, err
	}

	raw := func() error {
		cpu := startCPU(emu)
		p, err := rawQuery(ctx, client, tables.Messages, h.Room.ID)
		if err != nil {
			return err
		}
		cpu.stop(&p)
		if p.Items != n {
			return fmt.Errorf("raw Query read %d of %d messages", p.Items, n)
		}
		res.Raw = append(res.Raw, p)
		fmt.Fprintf(progress, "bench: raw Query: %.2f s\n", p.Seconds)
		return nil
	}
	if err := raw(); err != nil {
		return res, err
	}
	// o.runs rounds of the walk and of each export, the formats taking
	// turns, so that a slow spell of this shared machine falls on all of
	// them; each row is the median by time.
	walks := make([]pass, 0, o.runs)
	exports := make(map[string][]exportPass, len(o.formats))
	for round := range o.runs {
		cpu := startCPU(emu)
		w, err := adapterWalk(ctx, store, h.Room.ID)
		if err != nil {
			return res, err
		}
		cpu.stop(&w)
		walks = append(walks, w)
		fmt.Fprintf(progress, "bench: adapter MessagePage walk: %.2f s\n", w.Seconds)
		for _, format := range o.formats {
			counted.take()
			prof := ""
			if round == 0 {
				prof = o.profile
			}
			stopProfile, err := startProfile(prof, fmt.Sprintf("aws-%d-%s.pprof", n, format))
			if err != nil {
				return res, err
			}
			cpu := startCPU(emu)
			p, err := exportThrough(ctx, svc, h, format, n)
			cpu.stop(&p.pass)
			if perr := stopProfile(); err == nil {
				err = perr
			}
			if err != nil {
				return res, err
			}
			p.Calls = counted.take()
			fmt.Fprintf(progress, "bench: export %s through the DynamoDB adapter: %.2f s (dynalite CPU %.2f s, bench CPU %.2f s)\n", format, p.Seconds, p.EmuCPU, p.OwnCPU)
			exports[format] = append(exports[format], p)
		}
	}
	res.Adapter = medianPass(walks, func(p pass) float64 { return p.Seconds })
	for _, format := range o.formats {
		res.Exports = append(res.Exports, medianPass(exports[format], func(p exportPass) float64 { return p.Seconds }))
	}
	return res, raw()
}

// startProfile starts a CPU profile of this process into dir/name, for an
// export through the AWS adapters (which runs in the bench itself, not in a
// child); stop ends it. An empty dir profiles nothing.
func startProfile(dir, name string) (stop func() error, err error) {
	if dir == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() error {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		return nil
	}, nil
}

// medianPass is the middle one of passes by key (the slower of the two
// middle ones when their number is even).
func medianPass[P any](passes []P, key func(P) float64) P {
	sorted := slices.Clone(passes)
	slices.SortStableFunc(sorted, func(a, b P) int { return cmp.Compare(key(a), key(b)) })
	return sorted[len(sorted)/2]
}

// awsService is the export service on the DynamoDB adapter, with a local
// file store and Maildir; background dispatch is never needed (every export
// runs inline).
func awsService(store *dynamo.Store, dir string) (*export.Service, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	files, err := localfs.New(filepath.Join(dir, "files"), key, "http://127.0.0.1")
	if err != nil {
		return nil, err
	}
	outbox, err := maildir.New(filepath.Join(dir, "outbox"), time.Now)
	if err != nil {
		return nil, err
	}
	return &export.Service{
		Directory: store, Messages: store, Jobs: store, Limiter: store,
		Files: files, Mailer: outbox, Dispatcher: inlineOnly{},
		Links:  export.LinkSigner{Key: key},
		Config: export.Config{InlineBudget: 24 * time.Hour, AssetsAhead: export.RemoteAssetsAhead}.WithDefaults(),
	}, nil
}

// inlineOnly is a Dispatcher for a service whose exports all run inline.
type inlineOnly struct{}

func (inlineOnly) Dispatch(context.Context, string) error {
	return errors.New("bench: background exports are not benchmarked")
}

// rawQuery pages through the room's visible messages with the SDK alone:
// 500 items per Query, projecting the record attribute the adapter reads.
// Visible messages' sort keys start with a digit, hidden copies' with "h"
// (see package dynamo), so sk < "h" is the whole visible room.
func rawQuery(ctx context.Context, client *dynamodb.Client, table, rid string) (pass, error) {
	in := &dynamodb.QueryInput{
		TableName:                aws.String(table),
		KeyConditionExpression:   aws.String("#pk = :pk AND #sk < :hidden"),
		ProjectionExpression:     aws.String("#d"),
		ExpressionAttributeNames: map[string]string{"#pk": "pk", "#sk": "sk", "#d": "d"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": &types.AttributeValueMemberS{Value: rid}, ":hidden": &types.AttributeValueMemberS{Value: "h"},
		},
		Limit: aws.Int32(pageSize),
	}
	var p pass
	start := time.Now()
	for {
		out, err := client.Query(ctx, in)
		if err != nil {
			return p, fmt.Errorf("raw query %s: %w", rid, err)
		}
		p.Items += len(out.Items)
		if len(out.LastEvaluatedKey) == 0 {
			break
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
	p.Seconds = time.Since(start).Seconds()
	return p, nil
}

// adapterWalk reads the room page by page through the adapter's
// MessagePage, as the service's page iterator does, decoding every message.
func adapterWalk(ctx context.Context, store *dynamo.Store, rid string) (pass, error) {
	q := export.MessageQuery{RoomID: rid, From: time.Unix(0, 0), To: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC), Limit: pageSize}
	var p pass
	start := time.Now()
	for {
		page, more, err := store.MessagePage(ctx, q)
		if err != nil {
			return p, err
		}
		p.Items += len(page)
		if !more || len(page) == 0 {
			break
		}
		last := page[len(page)-1]
		q.After = export.Cursor{TS: last.TS, ID: last.ID}
	}
	p.Seconds = time.Since(start).Seconds()
	return p, nil
}

// exportThrough exports the whole room through the service and checks the
// job ended done with every message.
func exportThrough(ctx context.Context, svc *export.Service, h gen.Header, format string, n int) (exportPass, error) {
	body, err := exportBody(h, format)
	if err != nil {
		return exportPass{}, err
	}
	start := time.Now()
	res, err := svc.Export(ctx, h.Credentials(), body, "http://127.0.0.1")
	elapsed := time.Since(start)
	if err != nil {
		return exportPass{}, fmt.Errorf("export through dynamo: %w", err)
	}
	job, err := svc.Jobs.Job(ctx, res.ExportID)
	if err != nil {
		return exportPass{}, fmt.Errorf("export job: %w", err)
	}
	if job.Status != chat.JobDone || job.Exported != int64(n) {
		return exportPass{}, fmt.Errorf("export through dynamo ended %s with %d of %d messages: %s", job.Status, job.Exported, n, job.Error)
	}
	return exportPass{Format: format, pass: pass{Items: n, Seconds: elapsed.Seconds()}, Bytes: job.Bytes}, nil
}
